"""The admin API under /admin/api/: bearer tokens, roles per endpoint, an OpenAPI document built from the table.

Viewers read; operators also retry dead letters and replay; admins also change channels and credentials.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from aiohttp import web

from channels.base import CredentialCheck
from gateway.admin.actions import Admin
from gateway.admin.audit import recent
from gateway.admin.openapi import document
from gateway.admin.queries import complaint_detail, deadline_breaches, recent_complaints
from gateway.admin.tokens import Role, TokenInfo, authenticate, role_allows
from gateway.errors import ConfigurationError
from gateway.outbox import Queue, list_entries
from gateway.replay import ReplayFilter
from gateway.stats import channel_stats, queue_depths

PREFIX = "/admin/api"
Handler = Callable[["AdminApi", web.Request, TokenInfo], Awaitable[web.Response]]


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


_dumps = partial(json.dumps, default=_default, ensure_ascii=False)


def answer(data: object, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer that is never cached."""
    response = web.json_response(data, status=status, dumps=_dumps, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def problem(status: int, error: str, detail: str = "") -> web.Response:
    """A JSON error: {"error", "detail"}."""
    headers = {"WWW-Authenticate": 'Bearer realm="lapor-gateway admin"'} if status == 401 else None
    return answer({"error": error, "detail": detail}, status=status, headers=headers)


class BadRequest(Exception):
    """A request body or parameter the endpoint cannot use."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One admin API operation: route, least role, summary and (for the OpenAPI document) its body."""

    method: str
    path: str
    role: Role
    summary: str
    handler: Handler
    body: dict[str, Any] | None = None
    query: tuple[str, ...] = ()


def bearer(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _queue(value: object) -> Queue:
    if value in (None, "dispatch"):
        return "dispatch"
    if value == "reply":
        return "reply"
    raise BadRequest("queue must be dispatch or reply")


def _strings(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadRequest(f"{key} must be a list of strings")
    return tuple(value)


def _time(body: dict[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f"{key} must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{key} needs a time zone")
    return moment


def _limit(request: web.Request, default: int = 50, maximum: int = 500) -> int:
    try:
        return max(1, min(maximum, int(request.query.get("limit", default))))
    except ValueError:
        raise BadRequest("limit must be a number") from None


class AdminApi:
    """The endpoints and the guard that checks tokens and roles before each one."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.db = admin.gateway.db

    def mount(self, app: web.Application) -> None:
        """Add the OpenAPI document and every guarded endpoint to `app`."""
        app.router.add_get(f"{PREFIX}/openapi.json", self.openapi)
        for endpoint in ENDPOINTS:
            app.router.add_route(endpoint.method, PREFIX + endpoint.path, partial(self._guarded, endpoint))

    async def openapi(self, _request: web.Request) -> web.Response:
        """GET /admin/api/openapi.json (no token needed: it describes, it holds nothing)."""
        return answer(document(ENDPOINTS, prefix=PREFIX))

    async def _guarded(self, endpoint: Endpoint, request: web.Request) -> web.Response:
        token = bearer(request)
        who = await authenticate(self.db, token) if token else None
        if who is None:
            return problem(401, "unauthorized", "send Authorization: Bearer <token>")
        if not role_allows(who.role, endpoint.role):
            return problem(403, "forbidden", f"needs the {endpoint.role} role")
        try:
            return await endpoint.handler(self, request, who)
        except BadRequest as exc:
            return problem(400, "bad_request", str(exc))
        except ConfigurationError as exc:
            status = 404 if exc.reason == "unknown channel" else 422
            return problem(status, exc.reason.replace(" ", "_"), exc.detail)

    async def me(self, _request: web.Request, who: TokenInfo) -> web.Response:
        """GET /me."""
        return answer({"id": who.id, "name": who.name, "role": who.role})

    async def channels(self, _request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /channels."""
        return answer({"channels": [view.as_json() for view in await self.admin.channels()]})

    async def channel(self, request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /channels/{name}."""
        name = request.match_info["name"]
        for view in await self.admin.channels():
            if view.name == name:
                return answer(view.as_json())
        return problem(404, "unknown_channel", name)

    async def update_channel(self, request: web.Request, who: TokenInfo) -> web.Response:
        """PATCH /channels/{name}."""
        body = await _json_object(request)
        enabled = body.get("enabled")
        values = body.get("settings") or {}
        if enabled is not None and not isinstance(enabled, bool):
            raise BadRequest("enabled must be true or false")
        if not isinstance(values, dict):
            raise BadRequest("settings must be an object")
        await self.admin.update_channel(request.match_info["name"], enabled=enabled, values=values, actor=who.actor)
        return await self.channel(request, who)

    async def set_secret(self, request: web.Request, who: TokenInfo) -> web.Response:
        """PUT /channels/{name}/secrets/{key}: the answer never contains the value."""
        body = await _json_object(request)
        value, check = body.get("value"), body.get("check", True)
        if not isinstance(value, str) or not value:
            raise BadRequest("value must be a non-empty string")
        if not isinstance(check, bool):
            raise BadRequest("check must be true or false")
        name, key = request.match_info["name"], request.match_info["key"]
        result = await self.admin.set_secret(name, key, value, check=check, actor=who.actor)
        if result is not None and result is not CredentialCheck.OK:
            return problem(422, str(result), "the provider did not accept the credentials; nothing saved")
        return answer({"channel": name, "key": key, "secret": "set", "check": None if result is None else str(result)})

    async def test_channel(self, request: web.Request, _who: TokenInfo) -> web.Response:
        """POST /channels/{name}/test."""
        return answer({"result": str(await self.admin.test_channel(request.match_info["name"]))})

    async def queues(self, _request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /queues."""
        return answer(await queue_depths(self.db))

    async def dead_letters(self, request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /dead-letters?queue=dispatch|reply."""
        queue = _queue(request.query.get("queue"))
        entries = await list_entries(self.db, queue, states=("dead",), limit=_limit(request, 100, 1000))
        return answer({"queue": queue, "entries": entries})

    async def retry(self, request: web.Request, who: TokenInfo) -> web.Response:
        """POST /dead-letters/retry."""
        body = await _json_object(request)
        queue = _queue(body.get("queue"))
        count = await self.admin.retry(queue, _strings(body, "ids"), actor=who.actor)
        return answer({"queue": queue, "retried": count})

    async def replay(self, request: web.Request, who: TokenInfo) -> web.Response:
        """POST /replay."""
        body = await _json_object(request)
        channel = body.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise BadRequest("channel must be a string")
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise BadRequest("dry_run must be true or false")
        selection = ReplayFilter(channel=channel, since=_time(body, "since"), until=_time(body, "until"),
                                 ids=_strings(body, "ids"), states=_strings(body, "states"))
        counts, lines = await self.admin.replay(selection, dry_run=dry_run, actor=who.actor)
        return answer({"dry_run": dry_run, "counts": counts, "results": lines})

    async def complaints(self, request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /complaints."""
        return answer({"complaints": await recent_complaints(self.db, limit=_limit(request))})

    async def complaint(self, request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /complaints/{id}."""
        detail = await complaint_detail(self.db, request.match_info["id"])
        return answer(detail) if detail is not None else problem(404, "not_found", "no such complaint")

    async def breaches(self, _request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /deadlines/breaches."""
        return answer({"breaches": await deadline_breaches(self.db)})

    async def stats(self, _request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /stats."""
        return answer({name: vars(value) for name, value in (await channel_stats(self.db)).items()})

    async def audit(self, request: web.Request, _who: TokenInfo) -> web.Response:
        """GET /audit."""
        return answer({"entries": await recent(self.db, limit=_limit(request, 100, 1000))})


_OBJECT: dict[str, Any] = {"type": "object"}
# Every endpoint, in the order the OpenAPI document lists them; the tests walk this table for 401 and 403.
ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/me", "viewer", "The caller's token name and role", AdminApi.me),
    Endpoint("GET", "/channels", "viewer", "Channels with health; secrets only as set / not set",
             AdminApi.channels),
    Endpoint("GET", "/channels/{name}", "viewer", "One channel", AdminApi.channel),
    Endpoint("PATCH", "/channels/{name}", "admin", "Enable, disable or change plain settings",
             AdminApi.update_channel, body={"type": "object", "properties": {
                 "enabled": {"type": "boolean"}, "settings": _OBJECT}}),
    Endpoint("PUT", "/channels/{name}/secrets/{key}", "admin",
             "Store a secret, checked with the provider first unless check is false", AdminApi.set_secret,
             body={"type": "object", "required": ["value"], "properties": {
                 "value": {"type": "string", "writeOnly": True}, "check": {"type": "boolean"}}}),
    Endpoint("POST", "/channels/{name}/test", "operator",
             "Check credentials: ok, invalid_auth, cannot_connect or unknown", AdminApi.test_channel),
    Endpoint("GET", "/queues", "viewer", "Rows per state in the raw archive and both outboxes", AdminApi.queues),
    Endpoint("GET", "/dead-letters", "viewer", "Dead letters of an outbox", AdminApi.dead_letters,
             query=("queue", "limit")),
    Endpoint("POST", "/dead-letters/retry", "operator", "Retry dead letters (all of a queue without ids)",
             AdminApi.retry, body={"type": "object", "properties": {
                 "queue": {"enum": ["dispatch", "reply"]}, "ids": {"type": "array",
                                                                    "items": {"type": "string"}}}}),
    Endpoint("POST", "/replay", "operator", "Re-run stored raw messages through normalization",
             AdminApi.replay, body={"type": "object", "properties": {
                 "channel": {"type": "string"}, "since": {"type": "string", "format": "date-time"},
                 "until": {"type": "string", "format": "date-time"},
                 "ids": {"type": "array", "items": {"type": "string"}},
                 "states": {"type": "array", "items": {"type": "string"}},
                 "dry_run": {"type": "boolean"}}}),
    Endpoint("GET", "/complaints", "viewer", "Recent complaints", AdminApi.complaints, query=("limit",)),
    Endpoint("GET", "/complaints/{id}", "viewer", "A complaint's record beside its raw message",
             AdminApi.complaint),
    Endpoint("GET", "/deadlines/breaches", "viewer", "Open complaints past a deadline", AdminApi.breaches),
    Endpoint("GET", "/stats", "viewer", "Per-channel totals", AdminApi.stats),
    Endpoint("GET", "/audit", "admin", "The audit trail, newest first", AdminApi.audit, query=("limit",)),
]

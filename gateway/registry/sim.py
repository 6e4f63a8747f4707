"""registry-sim: the registry contract (docs/registry-api.yaml) served locally, with fault injection.

Persistent (its own SQLite file), authenticated (Bearer token), idempotent (Idempotency-Key
answers survive restarts), and able to fail on purpose so retries and exactly-once can be tested.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import random
import signal
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.registry.sim_store import (
    STATUSES,
    JSONObject,
    KeyReused,
    SimStore,
    StoredAnswer,
    UnknownComplaint,
)

log = structlog.get_logger(__name__)

CLASSIFICATIONS: Final = ("pengaduan", "aspirasi", "permintaan_informasi")
MAX_KEY_LENGTH: Final = 255
DEFAULT_PER_PAGE: Final = 50
MAX_PER_PAGE: Final = 500


@dataclass(slots=True)
class Faults:
    """What the sandbox does wrong on purpose, and the state it needs to do it."""

    fail_rate: float = 0.0
    latency_ms: int = 0
    throttle_every: int = 0
    fail_after_commit_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    requests: int = 0


STORE: Final = web.AppKey("store", SimStore)
TOKEN: Final = web.AppKey("token", str)
FAULTS: Final = web.AppKey("faults", Faults)


class InvalidRequest(Exception):
    """The request is refused: (status, error code, detail)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail


def error_response(status: int, error: str, detail: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """The contract's error body: {"error", "detail"}."""
    return web.json_response({"error": error, "detail": detail}, status=status, headers=headers)


def _is_sandbox_control(request: web.Request) -> bool:
    return request.path == "/healthz" or request.path.startswith("/sim/")


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency, throttling and failures injected before any work is done (so a retry is safe)."""
    if _is_sandbox_control(request):
        return await handler(request)
    faults = request.app[FAULTS]
    faults.requests += 1
    if faults.latency_ms > 0:
        await asyncio.sleep(faults.latency_ms / 1000)
    if faults.throttle_every > 0 and faults.requests % faults.throttle_every == 0:
        return error_response(429, "rate_limited", "too many requests", headers={"Retry-After": "1"})
    if faults.fail_rate > 0 and faults.rng.random() < faults.fail_rate:
        return error_response(503, "unavailable", "injected fault: nothing was done")
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer token: 401 when missing or malformed, 403 when wrong (RFC 6750 section 3.1)."""
    if request.path == "/healthz":
        return await handler(request)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return error_response(
            401, "unauthorized", "Bearer token required", headers={"WWW-Authenticate": 'Bearer realm="lapor"'}
        )
    if not hmac.compare_digest(presented.strip().encode(), request.app[TOKEN].encode()):
        return error_response(403, "forbidden", "token not accepted")
    return await handler(request)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn the sandbox's own exceptions into the contract's error bodies."""
    try:
        return await handler(request)
    except InvalidRequest as exc:
        return error_response(exc.status, exc.error, exc.detail)
    except UnknownComplaint as exc:
        return error_response(404, "not_found", f"no complaint {exc.args[0]!r}")
    except KeyReused:
        # Same key, different body: the IETF idempotency-key draft answers 422.
        # https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
        return error_response(422, "idempotency_key_reused", "key was used with a different request body")


async def _json_object(request: web.Request) -> JSONObject:
    try:
        data: object = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidRequest(400, "invalid_json", "body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidRequest(400, "invalid_json", "body must be a JSON object")
    return {str(k): v for k, v in data.items()}


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise InvalidRequest(400, "idempotency_key_required", "Idempotency-Key header is required")
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidRequest(400, "idempotency_key_invalid", f"1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return key


def _require_text(body: JSONObject, name: str) -> None:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(422, "invalid_field", f"{name} must be a non-empty string")


def _require_bool(body: JSONObject, name: str) -> None:
    if not isinstance(body.get(name), bool):
        raise InvalidRequest(422, "invalid_field", f"{name} must be a boolean")


def _require_timestamp(body: JSONObject, name: str) -> None:
    value = body.get(name)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidRequest(422, "invalid_field", f"{name} must be an ISO 8601 timestamp with offset")


def _check_privacy(body: JSONObject, *, reporter_required: bool) -> None:
    """Anonymous requests must not name the reporter; the sandbox enforces what the contract promises."""
    _require_bool(body, "anonim")
    _require_bool(body, "rahasia")
    reporter = body.get("reporter")
    if body["anonim"]:
        if reporter is not None:
            raise InvalidRequest(422, "anonymous_with_identity", "an anonymous request must not carry reporter")
        return
    if reporter is None and not reporter_required:
        return
    if not isinstance(reporter, dict) or not isinstance(reporter.get("identity"), str):
        raise InvalidRequest(422, "invalid_field", "reporter with identity is required unless anonim")


def validate_complaint(body: JSONObject) -> None:
    """The checks a POST /complaints body must pass (422 otherwise)."""
    for name in ("title", "body", "channel"):
        _require_text(body, name)
    if body.get("classification") not in CLASSIFICATIONS:
        raise InvalidRequest(422, "invalid_field", f"classification must be one of {', '.join(CLASSIFICATIONS)}")
    _require_timestamp(body, "received_at")
    _check_privacy(body, reporter_required=True)


def validate_follow_up(body: JSONObject) -> None:
    """The checks a POST /complaints/{id}/followups body must pass (422 otherwise)."""
    _require_text(body, "body")
    _require_text(body, "channel")
    _require_timestamp(body, "received_at")
    _check_privacy(body, reporter_required=False)


def _answer(request: web.Request, stored: StoredAnswer) -> web.Response:
    faults = request.app[FAULTS]
    rate = faults.fail_after_commit_rate
    if not stored.replayed and rate > 0 and faults.rng.random() < rate:
        # The work is committed but the client never learns it: only the Idempotency-Key saves it.
        return error_response(503, "unavailable", "injected fault after commit")
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
    return web.json_response(stored.body, status=stored.status, headers=headers)


async def post_complaint(request: web.Request) -> web.Response:
    """POST /complaints."""
    key = _idempotency_key(request)
    body = await _json_object(request)
    validate_complaint(body)
    stored = request.app[STORE].file(body, key=key)
    if not stored.replayed:
        log.info("registry_sim.filed", tracking_id=stored.body["tracking_id"])
    return _answer(request, stored)


async def post_follow_up(request: web.Request) -> web.Response:
    """POST /complaints/{tracking_id}/followups."""
    key = _idempotency_key(request)
    body = await _json_object(request)
    validate_follow_up(body)
    stored = request.app[STORE].follow_up(request.match_info["tracking_id"], body, key=key)
    return _answer(request, stored)


async def get_complaint(request: web.Request) -> web.Response:
    """GET /complaints/{tracking_id}."""
    return web.json_response(request.app[STORE].get(request.match_info["tracking_id"]))


def _positive_int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidRequest(400, "invalid_parameter", f"{name} must be an integer from 1 to {maximum}")
    return int(raw)


async def list_complaints(request: web.Request) -> web.Response:
    """GET /complaints?page=N&per_page=M."""
    page = _positive_int(request, "page", 1, sys.maxsize)
    per_page = _positive_int(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    items, next_page = request.app[STORE].page(page, per_page=per_page)
    return web.json_response({"items": items, "next_page": next_page})


def _optional_text(body: JSONObject, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(422, "invalid_field", f"{name} must be a string")
    return value


async def set_status(request: web.Request) -> web.Response:
    """POST /sim/complaints/{tracking_id}/status (sandbox only): move a complaint along its lifecycle."""
    body = await _json_object(request)
    status = body.get("status")
    if status not in STATUSES:
        raise InvalidRequest(422, "invalid_field", f"status must be one of {', '.join(STATUSES)}")
    classification = _optional_text(body, "classification")
    if classification is not None and classification not in CLASSIFICATIONS:
        raise InvalidRequest(422, "invalid_field", f"classification must be one of {', '.join(CLASSIFICATIONS)}")
    view = request.app[STORE].set_status(
        request.match_info["tracking_id"],
        str(status),
        agency=_optional_text(body, "agency"),
        category=_optional_text(body, "category"),
        classification=classification,
    )
    return web.json_response(view)


async def add_response(request: web.Request) -> web.Response:
    """POST /sim/complaints/{tracking_id}/responses (sandbox only): the agency answers."""
    body = await _json_object(request)
    _require_text(body, "text")
    response = request.app[STORE].respond(request.match_info["tracking_id"], str(body["text"]))
    return web.json_response(response, status=201)


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the sandbox is up, its database answers, and how many contract requests it saw."""
    return web.json_response(
        {"status": "ok", "complaints": request.app[STORE].count(), "requests": request.app[FAULTS].requests}
    )


def build_sim_app(
    *,
    db_path: str | Path,
    token: str,
    fail_rate: float = 0.0,
    latency_ms: int = 0,
    throttle_every: int = 0,
    fail_after_commit_rate: float = 0.0,
    seed: int | None = None,
) -> web.Application:
    """The sandbox as an aiohttp application, for in-process use and for the CLI."""
    if not token:
        raise ValueError("registry-sim needs a token")
    for name, rate in (("fail_rate", fail_rate), ("fail_after_commit_rate", fail_after_commit_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
    if latency_ms < 0 or throttle_every < 0:
        raise ValueError("latency_ms and throttle_every must not be negative")
    app = web.Application(middlewares=[errors_middleware, faults_middleware, auth_middleware])
    store = SimStore(db_path)
    app[STORE] = store
    app[TOKEN] = token
    app[FAULTS] = Faults(
        fail_rate=fail_rate,
        latency_ms=latency_ms,
        throttle_every=throttle_every,
        fail_after_commit_rate=fail_after_commit_rate,
        rng=random.Random(seed),
    )

    async def close_store(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close_store)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/complaints", post_complaint)
    app.router.add_get("/complaints", list_complaints)
    app.router.add_get("/complaints/{tracking_id}", get_complaint)
    app.router.add_post("/complaints/{tracking_id}/followups", post_follow_up)
    app.router.add_post("/sim/complaints/{tracking_id}/status", set_status)
    app.router.add_post("/sim/complaints/{tracking_id}/responses", add_response)
    return app


async def serve_sim(app: web.Application, *, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM; prints the bound URL on stdout (useful with port 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        url = f"http://{bound_host}:{bound_port}"
        log.info("registry_sim.listening", url=url)
        print(f"registry-sim listening on {url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()

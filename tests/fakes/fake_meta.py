"""A local Graph API server: WhatsApp Cloud API and Messenger send endpoints, media lookup, /me.

Error shapes follow https://developers.facebook.com/docs/graph-api/guides/error-handling
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JsonObject = dict[str, Any]


@dataclass
class FakeGraphState:
    """What the fake Graph API knows and what it was sent."""

    token: str = "test-graph-token"
    version: str = "v21.0"
    window_closed: set[str] = field(default_factory=set)
    media: dict[str, bytes] = field(default_factory=dict)
    fail_next: tuple[int, int] | None = None
    sent: list[tuple[str, JsonObject]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def graph_error(status: int, code: int, message: str = "error") -> web.Response:
    """An error answer in Graph's shape."""
    body = {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}}
    return web.json_response(body, status=status)


def build_app(state: FakeGraphState) -> web.Application:
    """The fake Graph API as an aiohttp application."""

    def authorized(request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {state.token}"

    async def me(request: web.Request) -> web.Response:
        if not authorized(request):
            return graph_error(400, 190, "Invalid OAuth access token.")
        return web.json_response({"id": "1708000000001", "name": "LAPOR!"})

    async def media(request: web.Request) -> web.Response:
        if not authorized(request):
            return graph_error(400, 190, "Invalid OAuth access token.")
        media_id = request.match_info["node"]
        if media_id not in state.media:
            return graph_error(400, 100, "Unsupported get request.")
        url = str(request.url.with_path(f"/media-bytes/{media_id}").with_query(None))
        return web.json_response({"url": url, "mime_type": "image/jpeg", "id": media_id,
                                  "file_size": len(state.media[media_id]), "messaging_product": "whatsapp"})

    async def media_bytes(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.Response(status=401)
        return web.Response(body=state.media[request.match_info["media_id"]], content_type="image/jpeg")

    async def messages(request: web.Request) -> web.Response:
        if not authorized(request):
            return graph_error(400, 190, "Invalid OAuth access token.")
        if state.fail_next is not None:
            (status, code), state.fail_next = state.fail_next, None
            return graph_error(status, code, "Injected failure")
        body: JsonObject = await request.json()
        node = request.match_info["node"]
        state.sent.append((node, body))
        if body.get("messaging_product") == "whatsapp":
            if body.get("type") != "template" and body.get("to") in state.window_closed:
                return graph_error(400, 131047, "Re-engagement message")
            wamid = f"wamid.OUT_{next(state.ids)}"
            return web.json_response({"messaging_product": "whatsapp",
                                      "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                                      "messages": [{"id": wamid}]})
        return web.json_response({"recipient_id": body["recipient"]["id"], "message_id": f"m_OUT_{next(state.ids)}"})

    app = web.Application()
    app.router.add_get(f"/{state.version}/me", me)
    app.router.add_post(f"/{state.version}/{{node}}/messages", messages)
    app.router.add_get(f"/{state.version}/{{node}}", media)
    app.router.add_get("/media-bytes/{media_id}", media_bytes)
    return app

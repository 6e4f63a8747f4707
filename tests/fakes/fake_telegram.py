"""A local Telegram Bot API server: getMe, getUpdates (offset confirms), sendMessage, getFile, file download.

Answers have Telegram's shape: {"ok": true, "result": ...} or {"ok": false, "error_code", "description"}.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JsonObject = dict[str, Any]


@dataclass
class FakeTelegramState:
    """What the fake Bot API holds and what it was asked."""

    token: str = "6000000001:AAH-test-token-0123456789abcdefghij"
    updates: list[JsonObject] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    fail_next: list[tuple[int, str, int | None]] = field(default_factory=list)
    blocked_chats: set[str] = field(default_factory=set)
    sent: list[JsonObject] = field(default_factory=list)
    get_updates_calls: list[JsonObject] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500))


def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
    body: JsonObject = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=code)


def build_app(state: FakeTelegramState) -> web.Application:
    """The fake Bot API as an aiohttp application."""

    async def method(request: web.Request) -> web.Response:
        if request.match_info["token"] != state.token:
            return _error(401, "Unauthorized")
        if state.fail_next:
            return _error(*state.fail_next.pop(0))
        name = request.match_info["method"]
        body: JsonObject = await request.json() if request.can_read_body else {}
        if name == "getMe":
            return web.json_response({"ok": True, "result": {"id": 6000000001, "is_bot": True,
                                                             "first_name": "LAPOR Bot", "username": "LaporBot"}})
        if name == "getUpdates":
            state.get_updates_calls.append(body)
            offset = int(body.get("offset", 0))
            # Confirming: updates before the offset are forgotten, as on the real server.
            state.updates = [u for u in state.updates if u["update_id"] >= offset]
            return web.json_response({"ok": True, "result": state.updates[: int(body.get("limit", 100))]})
        if name == "sendMessage":
            if str(body.get("chat_id")) in state.blocked_chats:
                return _error(403, "Forbidden: bot was blocked by the user")
            state.sent.append(body)
            message = {"message_id": next(state.ids), "chat": {"id": int(body["chat_id"]), "type": "private"},
                       "date": 1709683200, "text": body["text"]}
            return web.json_response({"ok": True, "result": message})
        if name == "getFile":
            file_id = str(body.get("file_id"))
            if file_id not in state.files:
                return _error(400, "Bad Request: invalid file_id")
            path, data = state.files[file_id]
            return web.json_response({"ok": True, "result": {"file_id": file_id, "file_unique_id": "u",
                                                             "file_size": len(data), "file_path": path}})
        return _error(404, "Not Found")

    async def download(request: web.Request) -> web.Response:
        if request.match_info["token"] != state.token:
            return web.Response(status=401)
        for path, data in state.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data, content_type="image/jpeg")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    app.router.add_get("/file/bot{token}/{path:.+}", download)
    return app

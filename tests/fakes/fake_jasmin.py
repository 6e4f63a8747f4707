"""A local Jasmin: the HTTP API (/send, /balance) and the throwers that call our MO and DLR URLs.

HTTP API answers as documented (https://docs.jasminsms.com/en/latest/apis/ja-http/): 200
`Success "<uuid>"`, 400 `Error "Mandatory argument ... is not found."`, 403 `Error "Authentication
failure for username:..."`. The throwers send what deliverSmHttpThrower/DLRThrower send and retry
until the answer body is exactly ACK/Jasmin, as Jasmin does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from yarl import URL

from channels.sms_encoding import parse_form_bytes


@dataclass
class FakeJasminState:
    """What the fake Jasmin accepts and what it was asked."""

    username: str = "lapor"
    password: str = "jasmin-pass"
    fail_with: int | None = None
    requests: list[dict[str, bytes]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def build_app(state: FakeJasminState) -> web.Application:
    """The aiohttp app serving /send and /balance."""

    def authenticated(params: dict[str, bytes]) -> bool:
        return params.get("username") == state.username.encode() and params.get("password") == (
            state.password.encode()
        )

    async def send(request: web.Request) -> web.Response:
        raw = await request.read() if request.method == "POST" else request.rel_url.raw_query_string.encode()
        params = parse_form_bytes(raw)
        for name in ("to", "username", "password"):
            if name not in params:
                return web.Response(status=400, text=f'Error "Mandatory argument {name} is not found."')
        if "content" not in params and "hex-content" not in params:
            return web.Response(status=400, text='Error "Mandatory argument content is not found."')
        if not authenticated(params):
            return web.Response(status=403, text=f'Error "Authentication failure for username:{params["username"]!r}"')
        state.requests.append(params)
        if state.fail_with is not None:
            return web.Response(status=state.fail_with, text='Error "Cannot send submit_sm"')
        message_id = str(uuid.uuid4())
        state.ids.append(message_id)
        return web.Response(text=f'Success "{message_id}"')

    async def balance(request: web.Request) -> web.Response:
        params = parse_form_bytes(request.rel_url.raw_query_string.encode())
        if not authenticated(params):
            return web.Response(status=403, text='Error "Authentication failure"')
        return web.Response(text=json.dumps({"balance": "ND", "sms_count": "ND"}), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/send", send)
    app.router.add_get("/balance", balance)
    return app


async def throw(url: str, body: bytes, *, method: str = "POST", max_retries: int = 3) -> tuple[int, str, int]:
    """Throw an MO or DLR form as Jasmin does; returns (status, body, attempts) of the last try."""
    attempts = 0
    status, text = 0, ""
    async with aiohttp.ClientSession() as session:
        while attempts <= max_retries:
            attempts += 1
            headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/plain"}
            if method == "GET":
                # Exactly the bytes Jasmin's urlencode produced; yarl would normalize %3A to ':'.
                request = session.get(URL(f"{url}?{body.decode('ascii')}", encoded=True), headers=headers)
            else:
                request = session.post(url, data=body, headers=headers)
            async with request as response:
                status, text = response.status, await response.text()
            if status == 200 and text.strip() == "ACK/Jasmin":
                break
            if status == 404:  # Jasmin's only no-retry error
                break
    return status, text, attempts

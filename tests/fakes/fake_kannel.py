"""A local Kannel smsbox sendsms interface: checks the user, records each request, can fire the DLR.

Answers as smsbox.c (Kannel 1.4) does: 403 "Authorization failed for sendsms" before any argument
check, 400 "Missing receiver number, rejected" without `to`, 202 "0: Accepted for delivery".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from channels.sms_encoding import parse_form_bytes


@dataclass
class FakeKannelState:
    """What the fake Kannel accepts and what it was asked."""

    username: str = "lapor"
    password: str = "kannel-pass"
    fail_with: int | None = None  # answer every valid request with this status (503: temporal failure)
    requests: list[dict[str, bytes]] = field(default_factory=list)


def build_app(state: FakeKannelState) -> web.Application:
    """The aiohttp app serving /cgi-bin/sendsms."""

    async def sendsms(request: web.Request) -> web.Response:
        params = parse_form_bytes(request.rel_url.raw_query_string.encode("ascii"))
        user = params.get("username", params.get("user"))
        password = params.get("password", params.get("pass"))
        if user != state.username.encode() or password != state.password.encode():
            return web.Response(status=403, text="Authorization failed for sendsms")
        if "to" not in params:
            return web.Response(status=400, text="Missing receiver number, rejected")
        state.requests.append(params)
        if state.fail_with is not None:
            return web.Response(status=state.fail_with, text="Temporal failure, try again later.")
        return web.Response(status=202, text="0: Accepted for delivery")

    app = web.Application()
    app.router.add_get("/cgi-bin/sendsms", sendsms)
    return app


async def fire_dlr(params: dict[str, bytes], dlr_type: int) -> int:
    """Call the dlr-url of a recorded request as Kannel does, with %d replaced by the report type."""
    url = params["dlr-url"].decode().replace("%d", str(dlr_type))
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status

"""A local stand-in for Twilio's Messages API, for `make run` and the tests.

It speaks the real wire format the twilio library uses (form POST with HTTP Basic auth, JSON
answers): https://www.twilio.com/docs/messaging/api/message-resource
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web

API = "/2010-04-01/Accounts/{sid}"


@dataclass
class TwilioSandbox:
    """State of the sandbox: the account it accepts and every message sent through it."""

    account_sid: str
    auth_token: str
    fail_next: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _check(self, request: web.Request) -> None:
        if request.match_info["sid"] != self.account_sid or not self._authorized(request):
            raise web.HTTPUnauthorized(
                text='{"code": 20003, "message": "Authenticate", "status": 401}', content_type="application/json"
            )

    async def account(self, request: web.Request) -> web.Response:
        """GET /2010-04-01/Accounts/{sid}.json"""
        self._check(request)
        return web.json_response({"sid": self.account_sid, "status": "active", "friendly_name": "sandbox"})

    async def create_message(self, request: web.Request) -> web.Response:
        """POST /2010-04-01/Accounts/{sid}/Messages.json"""
        self._check(request)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"code": 20500, "message": "Internal error", "status": 500}, status=500)
        form = await request.post()
        to, sender, body = str(form.get("To", "")), str(form.get("From", "")), str(form.get("Body", ""))
        if not to or not sender or not body:
            return web.json_response(
                {"code": 21604, "message": "A 'To', 'From' and 'Body' are required", "status": 400}, status=400
            )
        now = datetime.now(UTC)
        message = {
            "sid": f"SM{next(self._ids):032x}",
            "account_sid": self.account_sid,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": format_datetime(now),
            "date_sent": format_datetime(now),
            "status_callback": str(form.get("StatusCallback", "")),
            "uri": f"{API.format(sid=self.account_sid)}/Messages/x.json",
        }
        self.messages.append(message)
        return web.json_response(message, status=201)

    async def list_messages(self, request: web.Request) -> web.Response:
        """GET /2010-04-01/Accounts/{sid}/Messages.json with To, From and DateSent> filters."""
        self._check(request)
        query = request.query
        after = query.get("DateSent>")
        since = datetime.fromisoformat(after) if after and "T" in after else None
        found = [
            m for m in self.messages
            if (not query.get("To") or m["to"] == query["To"])
            and (not query.get("From") or m["from"] == query["From"])
            and (since is None or parsedate_to_datetime(m["date_sent"]) >= since)
        ]
        return web.json_response({
            "messages": found, "end": len(found), "first_page_uri": "", "next_page_uri": None, "page": 0,
            "page_size": 50, "previous_page_uri": None, "start": 0, "uri": request.path_qs,
        })

    def app(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application()
        app.router.add_get(API + ".json", self.account)
        app.router.add_post(API + "/Messages.json", self.create_message)
        app.router.add_get(API + "/Messages.json", self.list_messages)
        app.router.add_get("/sandbox/messages", self.dump)
        return app

    async def dump(self, _request: web.Request) -> web.Response:
        """GET /sandbox/messages: everything sent, for tests and for a curious developer."""
        return web.json_response(self.messages)

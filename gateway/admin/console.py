"""The web console at /admin/: server-rendered pages that read without JavaScript.

Login with a token opens a session cookie (HttpOnly, SameSite=Strict, Secure behind https); every form
carries a CSRF token; every page is sent with a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.admin.actions import Admin
from gateway.admin.queries import channel_health, complaint_detail, deadline_breaches, recent_complaints
from gateway.admin.sessions import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    Session,
    close_session,
    find_session,
    new_csrf,
    open_session,
    same,
)
from gateway.admin.tokens import Role, authenticate, role_allows
from gateway.errors import ConfigurationError
from gateway.outbox import Queue, list_entries
from gateway.stats import queue_depths

HERE = Path(__file__).parent
PREFIX = "/admin"
# No script at all; styles only from our own origin; forms post only back to us; never framed.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class Console:
    """The console's pages and form actions."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin
        self.db = admin.gateway.db
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]))

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure when the gateway's public URL is https."""
        return self.admin.gateway.settings.server.base_url.startswith("https://")

    def mount(self, app: web.Application) -> None:
        """Add the console's routes to `app`."""
        app.router.add_get(PREFIX, self.to_root)
        app.router.add_get(PREFIX + "/", self.dashboard)
        app.router.add_get(PREFIX + "/login", self.login_form)
        app.router.add_post(PREFIX + "/login", self.login)
        app.router.add_post(PREFIX + "/logout", self.logout)
        app.router.add_get(PREFIX + "/complaints/{id}", self.complaint)
        app.router.add_post(PREFIX + "/dead-letters/retry", self.retry)
        app.router.add_post(PREFIX + "/channels/{name}/test", self.test_channel)
        app.router.add_post(PREFIX + "/channels/{name}/enabled", self.set_enabled)
        app.router.add_get(PREFIX + "/static/console.css", self.stylesheet)

    def render(self, template: str, *, status: int = 200, **context: Any) -> web.Response:
        """A page with the security headers."""
        html = self.templates.get_template(template).render(**context)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8", headers=HEADERS)

    def redirect(self, location: str) -> web.Response:
        """A 303 See Other after a form post."""
        return web.Response(status=303, headers={**HEADERS, "Location": location})

    def notice(self, text: str, anchor: str) -> web.Response:
        """Back to the dashboard with a one-line notice."""
        return self.redirect(f"{PREFIX}/?{urlencode({'notice': text})}#{anchor}")

    async def session(self, request: web.Request) -> Session | None:
        """The session of the request's cookie."""
        return await find_session(self.db, request.cookies.get(COOKIE))

    async def form_session(self, request: web.Request, role: Role) -> tuple[Session, dict[str, str]] | web.Response:
        """The session and form of a POST, or the answer when it lacks a session, the CSRF token or the role."""
        session = await self.session(request)
        if session is None:
            return self.redirect(PREFIX + "/login")
        form = {key: str(value) for key, value in (await request.post()).items()}
        if not same(form.get("csrf"), session.csrf):
            return self.render("message.html", status=403, session=session, heading="Form expired",
                               text="The form's security token did not match; reload the page and try again.")
        if not role_allows(session.token.role, role):
            return self.render("message.html", status=403, session=session, heading="Not allowed",
                               text=f"This needs the {role} role.")
        return session, form

    async def to_root(self, _request: web.Request) -> web.Response:
        """GET /admin -> /admin/."""
        raise web.HTTPMovedPermanently(PREFIX + "/")

    async def login_form(self, request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
        """GET /admin/login: the form, with a double-submit CSRF token (no session exists yet)."""
        csrf = new_csrf()
        response = self.render("login.html", status=status, csrf=csrf, error=error, session=None)
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, path=PREFIX, httponly=True, samesite="Strict",
                            secure=self.secure_cookies, max_age=3600)
        return response

    async def login(self, request: web.Request) -> web.Response:
        """POST /admin/login: a valid token opens a session."""
        form = await request.post()
        if not same(str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE)):
            return await self.login_form(request, error="The form expired; try again.", status=403)
        token = await authenticate(self.db, str(form.get("token", "")).strip())
        if token is None:
            return await self.login_form(request, error="Unknown or revoked token.", status=401)
        value, _session = await open_session(self.db, token, minutes=self.admin.gateway.settings.admin.session_minutes)
        response = self.redirect(PREFIX + "/")
        response.set_cookie(COOKIE, value, path=PREFIX, httponly=True, samesite="Strict", secure=self.secure_cookies,
                            max_age=self.admin.gateway.settings.admin.session_minutes * 60)
        response.del_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
        return response

    async def logout(self, request: web.Request) -> web.Response:
        """POST /admin/logout."""
        checked = await self.form_session(request, "viewer")
        if isinstance(checked, web.Response):
            return checked
        await close_session(self.db, request.cookies.get(COOKIE))
        response = self.redirect(PREFIX + "/login")
        response.del_cookie(COOKIE, path=PREFIX)
        return response

    async def dashboard(self, request: web.Request) -> web.Response:
        """GET /admin/: channels, queues, dead letters, deadline breaches, recent complaints."""
        session = await self.session(request)
        if session is None:
            return self.redirect(PREFIX + "/login")
        health = await channel_health(self.db)
        channels = [{"view": view, "health": health.get(view.name)} for view in await self.admin.channels()]
        dead: list[dict[str, Any]] = []
        for queue in ("dispatch", "reply"):
            entries = await list_entries(self.db, "dispatch" if queue == "dispatch" else "reply", states=("dead",))
            dead += [{**entry, "queue": queue} for entry in entries]
        return self.render(
            "dashboard.html", session=session, channels=channels, depths=await queue_depths(self.db), dead=dead,
            breaches=await deadline_breaches(self.db), complaints=await recent_complaints(self.db, limit=25),
            notice=request.query.get("notice"),
            can_operate=role_allows(session.token.role, "operator"), can_admin=role_allows(session.token.role, "admin"),
        )

    async def complaint(self, request: web.Request) -> web.Response:
        """GET /admin/complaints/{id}: the raw message beside the normalized record."""
        session = await self.session(request)
        if session is None:
            return self.redirect(PREFIX + "/login")
        detail = await complaint_detail(self.db, request.match_info["id"])
        if detail is None:
            return self.render("message.html", status=404, session=session, heading="Not found",
                               text="There is no such complaint.")
        return self.render("complaint.html", session=session, detail=detail,
                           record_json=json.dumps(detail["record"], indent=2, ensure_ascii=False))

    async def retry(self, request: web.Request) -> web.Response:
        """POST /admin/dead-letters/retry (operator)."""
        checked = await self.form_session(request, "operator")
        if isinstance(checked, web.Response):
            return checked
        session, form = checked
        queue: Queue = "reply" if form.get("queue") == "reply" else "dispatch"
        ids = (form["id"],) if form.get("id") else ()
        count = await self.admin.retry(queue, ids, actor=session.token.actor)
        return self.notice(f"{count} {queue} dead letter(s) back in the outbox", "dead-letters")

    async def test_channel(self, request: web.Request) -> web.Response:
        """POST /admin/channels/{name}/test (operator)."""
        checked = await self.form_session(request, "operator")
        if isinstance(checked, web.Response):
            return checked
        name = request.match_info["name"]
        try:
            result = await self.admin.test_channel(name)
        except ConfigurationError as exc:
            return self.notice(f"{name}: {exc.reason}", "channels")
        return self.notice(f"{name} credentials: {result}", "channels")

    async def set_enabled(self, request: web.Request) -> web.Response:
        """POST /admin/channels/{name}/enabled (admin)."""
        checked = await self.form_session(request, "admin")
        if isinstance(checked, web.Response):
            return checked
        session, form = checked
        name, enabled = request.match_info["name"], form.get("enabled") == "true"
        try:
            await self.admin.update_channel(name, enabled=enabled, values={}, actor=session.token.actor)
        except ConfigurationError as exc:
            return self.notice(f"{name}: {exc.reason}", "channels")
        return self.notice(f"{name} {'enabled' if enabled else 'disabled'}", "channels")

    async def stylesheet(self, _request: web.Request) -> web.Response:
        """GET /admin/static/console.css."""
        return web.Response(body=(HERE / "static" / "console.css").read_bytes(), content_type="text/css",
                            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "max-age=300"})

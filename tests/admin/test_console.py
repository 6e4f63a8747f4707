"""The web console over HTTP: login, session cookie flags, CSRF on every form, roles, security headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest

from gateway.admin.tokens import authenticate, revoke_token
from tests.admin.stack import Stack, running_stack

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def stack(tmp_path: Path, vault_key: str) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # Cookies are handled by hand: every test looks at their flags.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


def cookies(response: aiohttp.ClientResponse) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def login(http: aiohttp.ClientSession, stack: Stack, role: str) -> tuple[str, str]:
    """Log in with the role's token; the session cookie value and the CSRF token of the dashboard's forms."""
    async with http.get(stack.path("/admin/login")) as response:
        form_csrf = CSRF.findall(await response.text())[0]
        login_cookie = cookies(response)["lapor_login_csrf"].value
    async with http.post(stack.path("/admin/login"), allow_redirects=False,
                         data={"csrf": form_csrf, "token": stack.tokens[role]},
                         headers={"Cookie": f"lapor_login_csrf={login_cookie}"}) as response:
        assert response.status == 303
        session = cookies(response)["lapor_admin"].value
    async with http.get(stack.path("/admin/"), headers={"Cookie": f"lapor_admin={session}"}) as response:
        assert response.status == 200
        return session, CSRF.findall(await response.text())[0]


async def test_pages_carry_security_headers_and_no_script(stack: Stack, http: aiohttp.ClientSession) -> None:
    session, _csrf = await login(http, stack, "viewer")
    for path, cookie in (("/admin/login", ""), ("/admin/", f"lapor_admin={session}")):
        async with http.get(stack.path(path), headers={"Cookie": cookie}) as response:
            html = await response.text()
            assert response.status == 200
            csp = response.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
            assert response.headers["X-Frame-Options"] == "DENY"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Cache-Control"] == "no-store"
            assert "<script" not in html.lower()


async def test_dashboard_needs_a_session(stack: Stack, http: aiohttp.ClientSession) -> None:
    for cookie in ("", "lapor_admin=forged-session-value"):
        async with http.get(stack.path("/admin/"), headers={"Cookie": cookie}, allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (303, "/admin/login")


# (id, send the form's CSRF token, send the matching cookie, token role or a bad token, status)
LOGINS = [
    ("ok", True, True, "viewer", 303),
    ("no_csrf_field", False, True, "viewer", 403),
    ("no_csrf_cookie", True, False, "viewer", 403),
    ("bad_token", True, True, "lgw_wrong", 401),
    ("revoked_token", True, True, "revoked", 401),
]


@pytest.mark.parametrize(("with_field", "with_cookie", "who", "status"), [row[1:] for row in LOGINS],
                         ids=[row[0] for row in LOGINS])
async def test_login(stack: Stack, http: aiohttp.ClientSession, with_field: bool, with_cookie: bool, who: str,
                     status: int) -> None:
    async with http.get(stack.path("/admin/login")) as response:
        form_csrf = CSRF.findall(await response.text())[0]
        issued = cookies(response)["lapor_login_csrf"]
        assert issued["httponly"] and issued["samesite"] == "Strict" and not issued["secure"]
    data = {"token": stack.tokens.get(who, who)}
    if with_field:
        data["csrf"] = form_csrf
    headers = {"Cookie": f"lapor_login_csrf={issued.value}"} if with_cookie else {}
    async with http.post(stack.path("/admin/login"), data=data, headers=headers, allow_redirects=False) as response:
        assert response.status == status
        session = cookies(response).get("lapor_admin")
        if status == 303:
            assert session is not None and session["httponly"] and session["samesite"] == "Strict"
            assert session["path"] == "/admin" and not session["secure"]
            assert stack.tokens[who] not in session.value
        else:
            assert session is None


async def test_session_cookie_is_secure_behind_https(tmp_path: Path, vault_key: str,
                                                     http: aiohttp.ClientSession) -> None:
    async with running_stack(tmp_path, public_url="https://lapor.example.go.id") as stack:
        async with http.get(stack.path("/admin/login")) as response:
            form_csrf = CSRF.findall(await response.text())[0]
            issued = cookies(response)["lapor_login_csrf"]
            assert issued["secure"]
        async with http.post(stack.path("/admin/login"), allow_redirects=False,
                             data={"csrf": form_csrf, "token": stack.tokens["viewer"]},
                             headers={"Cookie": f"lapor_login_csrf={issued.value}"}) as response:
            assert response.status == 303 and cookies(response)["lapor_admin"]["secure"]


# (id, role, send the CSRF token, expected status)
RETRIES = [
    ("operator", "operator", True, 303),
    ("admin", "admin", True, 303),
    ("viewer_refused", "viewer", True, 403),
    ("missing_csrf", "operator", False, 403),
]


@pytest.mark.parametrize(("role", "with_csrf", "status"), [row[1:] for row in RETRIES], ids=[row[0] for row in RETRIES])
async def test_retry_form_needs_csrf_and_operator(stack: Stack, http: aiohttp.ClientSession, role: str,
                                                  with_csrf: bool, status: int) -> None:
    session, csrf = await login(http, stack, role)
    data = {"queue": "dispatch", "id": "01NOSUCHJOB"}
    if with_csrf:
        data["csrf"] = csrf
    async with http.post(stack.path("/admin/dead-letters/retry"), data=data, allow_redirects=False,
                         headers={"Cookie": f"lapor_admin={session}"}) as response:
        assert response.status == status
        if status == 303:
            assert response.headers["Location"].startswith("/admin/?notice=0+dispatch+dead+letter")


@pytest.mark.parametrize("path", ["/admin/channels/twilio/test", "/admin/channels/twilio/enabled", "/admin/logout"],
                         ids=["test", "enable", "logout"])
async def test_every_form_checks_csrf(stack: Stack, http: aiohttp.ClientSession, path: str) -> None:
    session, csrf = await login(http, stack, "admin")
    for data, status in (({"csrf": "forged", "enabled": "true"}, 403), ({"enabled": "true"}, 403),
                         ({"csrf": csrf, "enabled": "true"}, 303)):
        async with http.post(stack.path(path), data=data, allow_redirects=False,
                             headers={"Cookie": f"lapor_admin={session}"}) as response:
            assert response.status == status, data


async def test_viewer_sees_no_action_buttons_and_secrets_only_as_set(stack: Stack, http: aiohttp.ClientSession) -> None:
    session, _csrf = await login(http, stack, "viewer")
    async with http.get(stack.path("/admin/"), headers={"Cookie": f"lapor_admin={session}"}) as response:
        html = await response.text()
    assert "auth_token: set" in html and stack.gateway.settings.channel("twilio")["auth_token"] not in html
    assert "Retry</button>" not in html and "Check credentials" not in html
    assert "viewer-token (viewer)" in html


async def test_logout_and_revocation_end_sessions(stack: Stack, http: aiohttp.ClientSession) -> None:
    session, csrf = await login(http, stack, "operator")
    async with http.post(stack.path("/admin/logout"), data={"csrf": csrf}, allow_redirects=False,
                         headers={"Cookie": f"lapor_admin={session}"}) as response:
        assert response.status == 303
    async with http.get(stack.path("/admin/"), headers={"Cookie": f"lapor_admin={session}"},
                        allow_redirects=False) as response:
        assert response.status == 303

    session, _csrf = await login(http, stack, "admin")
    holder = await authenticate(stack.gateway.db, stack.tokens["admin"])
    assert holder is not None
    await revoke_token(stack.gateway.db, holder.id, actor="test")
    async with http.get(stack.path("/admin/"), headers={"Cookie": f"lapor_admin={session}"},
                        allow_redirects=False) as response:
        assert response.status == 303

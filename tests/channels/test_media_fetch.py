"""The background media fetcher: size cap, timeout, redirects, address guard, content-addressed storage."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from channels.media_fetch import FetchedMedia, FetchFailed, fetch_media, is_public_address, media_session, store_media

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 1000


def media_app() -> web.Application:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def needs_token(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer t0k":
            return web.Response(status=401)
        return web.Response(body=b"secret media", content_type="audio/ogg")

    async def big(_request: web.Request) -> web.Response:
        return web.Response(body=b"0" * 5000, content_type="video/mp4")

    async def streamed_big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(50):
            await response.write(b"0" * 200)
        await response.write_eof()
        return response

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=b"late")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def loop(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def missing(_request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    for path, handler in [("/ok.jpg", ok), ("/token", needs_token), ("/big", big), ("/streamed", streamed_big),
                          ("/slow", slow), ("/redirect", redirect), ("/loop", loop), ("/missing", missing)]:
        app.router.add_get(path, handler)
    return app


@pytest.fixture
async def base() -> AsyncIterator[str]:
    server = TestServer(media_app(), host="127.0.0.1")
    await server.start_server(access_log=None)
    yield str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def test_fetches_and_reports_type_and_digest(base: str, session: aiohttp.ClientSession) -> None:
    fetched = await fetch_media(f"{base}/ok.jpg", session=session, max_bytes=2000, timeout=5, allow_private=True)
    assert isinstance(fetched, FetchedMedia)
    digest = hashlib.sha256(JPEG).hexdigest()
    assert (fetched.media_type, fetched.size, fetched.sha256) == ("image/jpeg", len(JPEG), digest)


async def test_redirect_is_followed_and_token_stays_on_its_host(base: str, session: aiohttp.ClientSession) -> None:
    same_host = await fetch_media(f"{base}/redirect?to=/token", session=session, max_bytes=100, timeout=5,
                                  allow_private=True, headers={"Authorization": "Bearer t0k"})
    assert isinstance(same_host, FetchedMedia) and same_host.data == b"secret media"
    other_host = base.replace("127.0.0.1", "localhost")
    moved = await fetch_media(f"{base}/redirect?to={other_host}/token", session=session, max_bytes=100, timeout=5,
                              allow_private=True, headers={"Authorization": "Bearer t0k"})
    assert moved == FetchFailed(f"{base}/redirect?to={other_host}/token", "http_status", "401")


FAILURES = [
    ("too-large-declared", "/big", True, frozenset(), "too_large"),
    ("too-large-streamed", "/streamed", True, frozenset(), "too_large"),
    ("timeout", "/slow", True, frozenset(), "timeout"),
    ("redirect-loop", "/loop", True, frozenset(), "too_many_redirects"),
    ("not-found", "/missing", True, frozenset(), "http_status"),
    ("loopback-refused", "/ok.jpg", False, frozenset(), "private_address"),
    ("redirect-to-private-refused", "/redirect?to=http://10.20.30.40/x.jpg", False, frozenset({"127.0.0.1"}),
     "private_address"),
    ("redirect-to-metadata-refused", "/redirect?to=http://169.254.169.254/latest/meta-data/", False,
     frozenset({"127.0.0.1"}), "private_address"),
    ("redirect-to-localhost-name-refused", "/redirect?to=http://localhost:1/x", False, frozenset({"127.0.0.1"}),
     "private_address"),
    ("redirect-to-file-scheme", "/redirect?to=file:///etc/passwd", True, frozenset(), "bad_url"),
]


@pytest.mark.parametrize(("path", "allow_private", "trusted", "reason"), [r[1:] for r in FAILURES],
                         ids=[r[0] for r in FAILURES])
async def test_failures_mark_the_attachment_unavailable(
    base: str, session: aiohttp.ClientSession, path: str, allow_private: bool, trusted: frozenset[str], reason: str
) -> None:
    result = await fetch_media(f"{base}{path}", session=session, max_bytes=2000, timeout=0.5,
                               allow_private=allow_private, trusted_hosts=trusted)
    assert isinstance(result, FetchFailed)
    assert result.reason == reason


async def test_connection_refused_is_a_failure_not_an_exception(session: aiohttp.ClientSession) -> None:
    server = TestServer(web.Application(), host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/x"))
    await server.close()
    result = await fetch_media(url, session=session, max_bytes=10, timeout=2, allow_private=True)
    assert isinstance(result, FetchFailed) and result.reason == "cannot_connect"


async def test_guarded_session_refuses_to_connect_to_loopback_names(base: str) -> None:
    # Closes the gap between our check and aiohttp's own resolution (DNS rebinding): the connector refuses too.
    async with media_session(timeout=5) as guarded:
        result = await fetch_media(base.replace("127.0.0.1", "localhost") + "/ok.jpg", session=guarded,
                                   max_bytes=2000, timeout=5, allow_private=True)
    assert isinstance(result, FetchFailed) and result.reason == "cannot_connect"


ADDRESSES = [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("36.86.63.182", True),
    ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False), ("127.0.0.1", False), ("::1", False),
    ("169.254.169.254", False), ("fe80::1", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("224.0.0.1", False), ("::ffff:127.0.0.1", False), ("fd00::1", False), ("240.0.0.1", False), ("nonsense", False),
]


@pytest.mark.parametrize(("address", "public"), ADDRESSES, ids=[a for a, _ in ADDRESSES])
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_store_media_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    first = store_media(tmp_path, JPEG)
    digest = hashlib.sha256(JPEG).hexdigest()
    assert first == tmp_path / digest[:2] / digest[2:4] / digest
    assert first.read_bytes() == JPEG
    assert store_media(tmp_path, JPEG) == first
    assert [p.name for p in first.parent.iterdir()] == [digest]  # no temporary files left behind

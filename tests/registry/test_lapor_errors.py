"""How LaporClient maps every kind of registry answer, against a scripted loopback server."""

from __future__ import annotations

import json

import pytest
import structlog

from gateway.errors import ConfigurationError, GatewayError, PermanentFailure, TransientFailure
from gateway.registry.base import Filed
from gateway.registry.lapor import LaporClient
from tests.registry.complaints import complaint
from tests.registry.scripted_registry import Script, scripted_registry
from tests.support.ports import free_port

TOKEN = "scripted-token-7c1e"
ERROR = json.dumps({"error": "invalid_field", "detail": "title must be a non-empty string"})

CASES = [
    # (status, body, headers, expected exception or None, retry_after)
    (201, json.dumps({"tracking_id": "1916449", "status": "baru"}), {}, None, None),
    (201, json.dumps({"tracking_id": 1916449, "status": "baru"}), {}, None, None),
    (400, ERROR, {}, PermanentFailure, None),
    (404, ERROR, {}, PermanentFailure, None),
    (422, ERROR, {}, PermanentFailure, None),
    (401, ERROR, {}, ConfigurationError, None),
    (403, ERROR, {}, ConfigurationError, None),
    (408, ERROR, {}, TransientFailure, None),
    (409, ERROR, {}, TransientFailure, None),
    (429, ERROR, {"Retry-After": "7"}, TransientFailure, 7.0),
    (429, ERROR, {"Retry-After": "Mon, 01 Jan 2001 00:00:00 GMT"}, TransientFailure, 0.0),
    (429, ERROR, {}, TransientFailure, None),
    (500, "<html>oops</html>", {}, TransientFailure, None),
    (502, "", {}, TransientFailure, None),
    (503, ERROR, {"Retry-After": "2"}, TransientFailure, 2.0),
    (201, "not json", {}, PermanentFailure, None),
    (201, json.dumps([1, 2]), {}, PermanentFailure, None),
    (201, json.dumps({"status": "baru"}), {}, PermanentFailure, None),
    (302, "", {"Location": "/elsewhere"}, PermanentFailure, None),
]
IDS = [
    "201-filed",
    "201-numeric-id",
    "400-permanent",
    "404-permanent",
    "422-permanent",
    "401-config",
    "403-config",
    "408-transient",
    "409-in-progress",
    "429-seconds",
    "429-http-date",
    "429-no-header",
    "500-html",
    "502-empty",
    "503-retry-after",
    "201-not-json",
    "201-not-object",
    "201-no-tracking-id",
    "302-unexpected",
]


@pytest.mark.parametrize(("status", "body", "headers", "expected", "retry_after"), CASES, ids=IDS)
async def test_file_maps_answers(
    status: int,
    body: str,
    headers: dict[str, str],
    expected: type[GatewayError] | None,
    retry_after: float | None,
) -> None:
    script = Script(status=status, body=body, headers=headers)
    async with scripted_registry(script) as url:
        client = LaporClient(base_url=url + "/", token=TOKEN, timeout_seconds=5.0)
        try:
            with structlog.testing.capture_logs() as logs:
                if expected is None:
                    filed = await client.file(complaint(), idempotency_key="key-1")
                    assert filed == Filed(tracking_id="1916449", status="baru")
                else:
                    with pytest.raises(expected) as caught:
                        await client.file(complaint(), idempotency_key="key-1")
                    assert type(caught.value) is expected
                    if isinstance(caught.value, TransientFailure):
                        assert caught.value.retry_after == retry_after
                    assert TOKEN not in _chain_text(caught.value)
        finally:
            await client.aclose()
    assert TOKEN not in repr(logs)
    method, path, sent_headers, _ = script.seen[0]
    assert (method, path) == ("POST", "/complaints")
    assert sent_headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent_headers["Idempotency-Key"] == "key-1"
    assert sent_headers["Content-Type"].startswith("application/json")


async def test_error_detail_is_kept_for_the_dead_letter() -> None:
    async with scripted_registry(Script(status=422, body=ERROR)) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        with pytest.raises(PermanentFailure) as caught:
            await client.file(complaint(), idempotency_key="k")
        await client.aclose()
    assert caught.value.detail == "HTTP 422: invalid_field: title must be a non-empty string"


async def test_follow_up_and_fetch_paths_are_quoted() -> None:
    script = Script(status=201, body=json.dumps({"tracking_id": "1", "followup_id": "1", "status": "baru"}))
    async with scripted_registry(script) as url:
        client = LaporClient(base_url=url, token=TOKEN, timeout_seconds=5.0)
        await client.follow_up("19/16", complaint(), idempotency_key="fk")
        await client.aclose()
    method, path, headers, _ = script.seen[0]
    assert (method, path, headers["Idempotency-Key"]) == ("POST", "/complaints/19%2F16/followups", "fk")


def _chain_text(exc: BaseException) -> str:
    """Everything an exception and its chained causes would print."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts += [str(current), repr(current), repr(vars(current)) if hasattr(current, "__dict__") else ""]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


async def test_connection_refused_is_transient_and_hides_the_token() -> None:
    client = LaporClient(base_url=f"http://127.0.0.1:{free_port()}", token=TOKEN, timeout_seconds=2.0)
    with structlog.testing.capture_logs() as logs, pytest.raises(TransientFailure) as caught:
        await client.fetch("1916000")
    await client.aclose()
    assert caught.value.reason == "registry unreachable"
    assert TOKEN not in _chain_text(caught.value)
    assert TOKEN not in repr(logs)
    assert TOKEN not in repr(client)


def test_empty_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        LaporClient(base_url="http://127.0.0.1:1", token="", timeout_seconds=1.0)

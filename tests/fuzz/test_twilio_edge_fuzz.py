"""Arbitrary bytes through the real HTTP edge of a running gateway (role ingest, SQLite).

Whatever arrives, signed or not: the answer is 200 or a 4xx, never a 5xx; a 200 means the row is stored;
and every stored row ends normalized, ignored or quarantined with a reason, never crashed.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from config.settings import Settings
from gateway.runtime import Gateway
from gateway.storage.tables import raw_message
from tests.fuzz import strategies as s
from tests.support.ports import free_port
from tests.support.twilio_signing import sign_form

TOKEN = "fuzz-auth-token-9a8b7c6d"
PATH = "/c/twilio/receive"
FORM = "application/x-www-form-urlencoded"
FINAL_STATES = {"normalized", "ignored", "quarantined"}
T = TypeVar("T")


class RunningGateway:
    """A Gateway on its own event loop in a thread, so that synchronous hypothesis tests can call it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        settings_ = Settings(
            server={"host": "127.0.0.1", "port": self.port, "max_body_bytes": 16384},
            database={"url": f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}", "spool_dir": str(workdir / "spool")},
            channels={"twilio": {"enabled": True, "auth_token": TOKEN, "account_sid": "ACfuzz"}},
            ingest={"pipeline": "inline"},  # settled() drives the pipeline itself
        )
        self.public_url = settings_.server.base_url
        self.gateway = Gateway(settings_, role="ingest")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.gateway.start())

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the gateway's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=60)

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        """POST to the Twilio webhook over a real connection; the status code."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("POST", PATH, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    def state_of(self, external_id: str) -> tuple[str, str | None] | None:
        """(state, reason) of the stored raw message, or None when nothing is stored."""
        async def read() -> tuple[str, str | None] | None:
            async with self.gateway.db.connect() as connection:
                row = (await connection.execute(
                    sa.select(raw_message.c.state, raw_message.c.reason).where(
                        raw_message.c.channel == "twilio", raw_message.c.external_id == external_id)
                )).first()
            return None if row is None else (row.state, row.reason)
        return self.call(read())

    def settled(self, external_id: str, timeout: float = 20) -> tuple[str, str | None]:
        """Let the pipeline process what is pending, then the row's final state."""
        deadline = time.monotonic() + timeout
        pipeline = self.gateway.pipeline
        assert pipeline is not None
        while True:
            self.call(pipeline.process_pending())
            found = self.state_of(external_id)
            assert found is not None
            if found[0] in FINAL_STATES or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the gateway and its loop."""
        self.call(self.gateway.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    server = RunningGateway(tmp_path_factory.mktemp("fuzz-edge"))
    yield server
    server.stop()


def form_of(body: bytes) -> list[tuple[str, str]] | None:
    """The form the edge will parse, or None when it will refuse the body as malformed."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None


signatures = st.sampled_from(["valid"] * 5 + ["forged", "missing", "garbage"])
content_types = st.sampled_from([FORM] * 6 + ["application/json", "text/plain; charset=utf-8", ""])
garbage = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40)


def check(server: RunningGateway, body: bytes, signature: str, content_type: str, junk: str) -> int:
    """One request: never a 5xx; a 200 is stored and ends in a final state without a normalizer crash."""
    form = form_of(body)
    headers = {"Content-Type": content_type} if content_type else {}
    if signature == "valid" and form is not None:
        headers["X-Twilio-Signature"] = sign_form(TOKEN, server.public_url + PATH, body)
    elif signature == "forged":
        headers["X-Twilio-Signature"] = sign_form("not-" + TOKEN, server.public_url + PATH, b"MessageSid=SMx")
    elif signature == "garbage":
        headers["X-Twilio-Signature"] = junk
    status = server.post(body, headers)
    assert status < 500, status
    assert status == 200 or 400 <= status < 500, status
    if status != 200:
        return status
    assert form is not None and content_type == FORM and "X-Twilio-Signature" in headers
    first = dict(reversed(form))
    sid = first.get("MessageSid") or first.get("SmsSid")
    assert sid, "a 200 without a MessageSid"
    state, reason = server.settled(sid)
    assert state in FINAL_STATES, (state, reason)
    assert not (reason or "").startswith("normalizer_error"), reason
    return status


# Mostly well-formed Twilio bodies (so that many are accepted and stored), some arbitrary bytes.
bodies = st.one_of(s.twilio_message_bytes, s.twilio_message_bytes, s.twilio_form_bytes, s.any_payload)
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FUZZ_DEEP = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(bodies, signatures, content_types, garbage)
def test_edge_answers_4xx_or_stores(running: RunningGateway, body: bytes, signature: str, content_type: str,
                                    junk: str) -> None:
    event(f"HTTP {check(running, body, signature, content_type, junk)}")  # see --hypothesis-show-statistics


@pytest.mark.slow
@FUZZ_DEEP
@given(bodies, signatures, content_types, garbage)
def test_edge_answers_4xx_or_stores_deeply(running: RunningGateway, body: bytes, signature: str,
                                           content_type: str, junk: str) -> None:
    event(f"HTTP {check(running, body, signature, content_type, junk)}")


ROWS = [
    ("valid_sms", b"MessageSid=SMedge1&From=%2B6281234567890&Body=jalan+rusak", "valid", FORM, 200),
    ("no_sid", b"From=%2B6281234567890&Body=x", "valid", FORM, 400),
    ("invalid_utf8", b"MessageSid=SMedge2&Body=%FF", "valid", FORM, 400),
    ("forged", b"MessageSid=SMedge3&Body=x", "forged", FORM, 403),
    ("json", b'{"MessageSid": "SMedge4"}', "missing", "application/json", 415),
    ("oversized", b"MessageSid=SMedge5&Body=" + b"x" * 20000, "valid", FORM, 413),
    ("no_sender_is_quarantined", b"MessageSid=SMedge6&Body=tanpa+pengirim", "valid", FORM, 200),
]


@pytest.mark.parametrize(("case", "body", "signature", "content_type", "status"), ROWS, ids=[r[0] for r in ROWS])
def test_edge_rows(running: RunningGateway, case: str, body: bytes, signature: str, content_type: str,
                   status: int) -> None:
    headers = {"Content-Type": content_type}
    if signature == "valid":
        headers["X-Twilio-Signature"] = sign_form(TOKEN, running.public_url + PATH, body)
    elif signature == "forged":
        headers["X-Twilio-Signature"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
    assert running.post(body, headers) == status
    if status == 200:
        check(running, body, signature, content_type, "")

"""The acknowledgement that asks for the kelurahan, and the one log redactor (secrets and personal data)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest
import structlog

from gateway import logs
from gateway.acks import SEGMENT_GSM7, acknowledgement, gsm7_length

SIXTEEN_DIGITS = re.compile(r"(?<!\d)\d{16}(?!\d)")


@pytest.mark.parametrize(
    ("tracking_id", "asks"),
    [
        ("1916000", True),
        ("LPR-2026-00001234", True),
        ("X" * 40, True),  # the short form still asks
        ("Y" * 70, False),  # no room: the plain acknowledgement, still one segment
    ],
    ids=["sandbox-id", "long-id", "very-long-id", "no-room"],
)
def test_ask_for_kelurahan_fits_one_gsm7_segment(tracking_id: str, asks: bool) -> None:
    text = acknowledgement(tracking_id, ask_kelurahan=True)
    length = gsm7_length(text)
    assert length is not None and length <= SEGMENT_GSM7, (length, text)
    assert ("kelurahan" in text) is asks
    assert f"#{tracking_id}" in text


@pytest.mark.parametrize(
    ("follow_up", "ask"),
    [(False, False), (True, True), (True, False)],
    ids=["plain", "follow-up-never-asks", "follow-up"],
)
def test_other_acknowledgements_do_not_ask(follow_up: bool, ask: bool) -> None:
    assert "kelurahan" not in acknowledgement("1916000", follow_up=follow_up, ask_kelurahan=ask)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The gateway's own logging configuration, writing to a buffer."""
    stream = io.StringIO()
    logs.configure(level="debug", stream=stream)
    yield stream
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


NIK = "3273012345678901"


@pytest.mark.parametrize(
    ("emit", "secret"),
    [
        (lambda: structlog.get_logger("t").info("event", body=f"NIK {NIK} mohon dibantu"), NIK),
        (lambda: structlog.get_logger("t").info("event", body="KK 3273-0123-4567-8901 hilang"), "3273-0123-4567"),
        (lambda: structlog.get_logger("t").info(f"positional text with {NIK}"), NIK),
        (lambda: structlog.get_logger("t").info("event", values=[NIK, "x"]), NIK),
        (lambda: logging.getLogger("lib").warning("stdlib record %s", NIK), NIK),
        (lambda: structlog.get_logger("t").info("event", to="whatsapp:+6281234567804"), "6281234567804"),
        (lambda: structlog.get_logger("t").info("event", mail="budi.santoso@example.co.id"), "budi.santoso@"),
        (lambda: structlog.get_logger("t").info("event", note="transfer ke rek BCA 1234567890"), "1234567890"),
    ],
    ids=["nik-field", "kk-separated", "event-text", "list-value", "stdlib", "whatsapp-phone", "email",
         "bank-account"],
)
def test_personal_data_is_masked_in_log_output(log_stream: io.StringIO, emit: Callable[[], None], secret: str) -> None:
    emit()
    output = log_stream.getvalue()
    assert output.strip(), "nothing was logged"
    assert secret not in output
    assert not SIXTEEN_DIGITS.search(output)


def test_exception_tracebacks_are_masked(log_stream: io.StringIO) -> None:
    try:
        raise ValueError(f"bad input {NIK}")
    except ValueError:
        structlog.get_logger("t").exception("crashed")
    line = json.loads(log_stream.getvalue().splitlines()[-1])
    assert "ValueError" in line["exception"] and NIK not in line["exception"]


def test_secrets_are_still_redacted(log_stream: io.StringIO) -> None:
    logs.REDACTOR.add_secrets(["tok-abcdef-123"])
    structlog.get_logger("t").info("event", header="Bearer tok-abcdef-123", count=7)
    line = json.loads(log_stream.getvalue().splitlines()[-1])
    assert line["header"] == f"Bearer {logs.REDACTED}" and line["count"] == 7


@pytest.mark.parametrize(
    "name", ["aiosqlite", "psycopg", "sqlalchemy.engine"], ids=["aiosqlite", "psycopg", "sqlalchemy"]
)
def test_database_statements_are_not_logged_at_debug(log_stream: io.StringIO, name: str) -> None:
    logging.getLogger(name).debug("executing INSERT INTO complaint VALUES (%s)", '{"body": "Budi, Jl. Braga 12"}')
    logging.getLogger("gateway.test").debug("still logging")
    assert "Jl. Braga" not in log_stream.getvalue() and "still logging" in log_stream.getvalue()

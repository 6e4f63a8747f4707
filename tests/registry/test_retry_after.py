"""Retry-After as registries send it: delay-seconds or an HTTP-date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.registry.lapor import parse_retry_after

NOW = datetime(2026, 12, 1, 6, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1", 1.0),
        ("120", 120.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Tue, 01 Dec 2026 06:00:45 GMT", 45.0),
        ("Tue, 01 Dec 2026 05:59:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("inf", None),
        ("nan", None),
        ("Tue, 99 Foo 2026 99:00:00 GMT", None),
    ],
    ids=[
        "seconds",
        "minutes",
        "padded",
        "zero",
        "fraction",
        "http-date",
        "http-date-past",
        "absent",
        "empty",
        "garbage",
        "negative",
        "infinite",
        "nan",
        "bad-date",
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected

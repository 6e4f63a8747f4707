"""The Twilio normalizer on arbitrary stored payloads: an outcome or a quarantine reason, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.messages import RawMessage
from gateway.outcomes import Quarantined, normalize_safely
from gateway.records import Complaint, FollowUp, Ignored
from normalizers.registry import NORMALIZERS
from tests.fuzz import strategies as s

RECEIVED = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
events = st.sampled_from(["message", "status", "unknown"])
metas = st.sampled_from([{}, {"signature": "valid"}, {"signature": "invalid", "flood": "1"}])


def check(payload: bytes, event: str, meta: dict[str, str]) -> None:
    """Declared outcomes only; a normalizer exception (quarantined as normalizer_error) is a bug; pure."""
    raw = RawMessage("twilio", event, "SMfuzz", RECEIVED, payload, meta)
    outcome = normalize_safely(raw, NORMALIZERS)
    assert isinstance(outcome, Complaint | FollowUp | Ignored | Quarantined)
    if isinstance(outcome, Quarantined):
        assert not outcome.reason.startswith("normalizer_error"), outcome.reason
    assert normalize_safely(raw, NORMALIZERS) == outcome  # replay reproduces it


@settings(max_examples=s.EXAMPLES, deadline=None)
@given(s.any_payload, events, metas)
def test_any_payload(payload: bytes, event: str, meta: dict[str, str]) -> None:
    check(payload, event, meta)


@pytest.mark.slow
@settings(max_examples=s.SLOW_EXAMPLES, deadline=None)
@given(s.any_payload, events, metas)
def test_any_payload_deeply(payload: bytes, event: str, meta: dict[str, str]) -> None:
    check(payload, event, meta)


ROWS = [
    ("invalid_utf8", b"MessageSid=SM1&From=%2B6281234567890&Body=%FF"),
    ("no_sender", b"MessageSid=SM1&Body=halo"),
    ("media_count_not_a_number", b"MessageSid=SM1&From=%2B6281234567890&NumMedia=x&MediaUrl0=u"),
    ("latitude_nan", b"MessageSid=SM1&From=%2B6281234567890&Latitude=nan&Longitude=inf"),
    ("only_markers", b"MessageSid=SM1&From=%2B6281234567890&Body=%23anonim%23rahasia"),
    ("control_characters", b"MessageSid=SM1&From=%2B6281234567890&Body=%01%02%7F"),
]


@pytest.mark.parametrize(("case", "payload"), ROWS, ids=[row[0] for row in ROWS])
def test_hostile_rows(case: str, payload: bytes) -> None:
    check(payload, "message", {})

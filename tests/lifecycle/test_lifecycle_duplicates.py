"""Cross-channel duplicates: the same person (identity or a contact in the text), near-identical text, in the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.lifecycle.duplicates import (
    contact_keys,
    find_duplicate,
    mark_duplicate,
    similarity,
)
from gateway.records import Complaint, Thread
from tests.lifecycle.complaints import build_complaint

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SMS_TEXT = "Jalan di depan SDN 3 Cibinong rusak parah, banyak lubang, sudah tiga bulan tidak diperbaiki. Mohon segera"
EMAIL_TEXT = (
    "Yth. Admin LAPOR,\n\nJalan di depan SDN 3 Cibinong rusak parah, banyak lubang, sudah tiga bulan "
    "tidak diperbaiki. Mohon segera.\n\nTerima kasih,\nBudi\nHP 0812-3456-7890"
)
WINDOW = timedelta(hours=72)


def sms(**kw: object) -> Complaint:
    fields: dict[str, object] = {"id": "01SMS", "channel": "twilio", "received_at": T0, "text": SMS_TEXT}
    fields.update(kw)
    return build_complaint(**fields)  # type: ignore[arg-type]


def email(**kw: object) -> Complaint:
    fields: dict[str, object] = {
        "id": "01EMAIL",
        "channel": "email",
        "received_at": T0 + timedelta(hours=5),
        "text": EMAIL_TEXT,
        "phone": None,
        "email": "budi@example.com",
    }
    fields.update(kw)
    return build_complaint(**fields)  # type: ignore[arg-type]


def tweet(**kw: object) -> Complaint:
    fields: dict[str, object] = {
        "id": "01X",
        "channel": "x",
        "received_at": T0 + timedelta(hours=8),
        "phone": None,
        "identity": "x:998877",
        "name": None,
        "text": "@LAPOR1708 Jalan di depan SDN 3 Cibinong rusak parah, banyak lubang, sudah tiga bulan tidak "
        "diperbaiki. Mohon segera! email: Budi@Example.com",
    }
    fields.update(kw)
    return build_complaint(**fields)  # type: ignore[arg-type]


CASES: list[tuple[str, Complaint, list[Complaint], tuple[str, str] | None]] = [
    ("email-after-sms-phone-in-text", email(), [sms()], ("01SMS", "contact_in_text")),
    (
        "whatsapp-after-sms-same-phone",
        sms(id="01WA", received_at=T0 + timedelta(hours=1)),
        [sms()],
        ("01SMS", "same_identity"),
    ),
    ("tweet-names-earlier-email", tweet(), [email()], ("01EMAIL", "contact_in_text")),
    (
        "sms-edited-one-word",
        sms(id="01SMS2", received_at=T0 + timedelta(hours=2), text=SMS_TEXT.replace("parah", "sekali")),
        [sms()],
        ("01SMS", "same_identity"),
    ),
    (
        "earliest-original-wins",
        email(),
        [sms(id="01LATER", received_at=T0 + timedelta(hours=1)), sms()],
        ("01SMS", "contact_in_text"),
    ),
    (
        "links-to-root",
        email(),
        [sms(thread=Thread(relation="duplicate", parent_id="01ROOT"))],
        ("01ROOT", "contact_in_text"),
    ),
    ("different-person", email(text=EMAIL_TEXT.replace("0812-3456-7890", "0813-9999-0000")), [sms()], None),
    (
        "same-person-other-problem",
        email(text="Lampu jalan di Jl. Mawar mati sejak seminggu. HP 081234567890"),
        [sms()],
        None,
    ),
    ("outside-window", email(received_at=T0 + timedelta(hours=73)), [sms()], None),
    ("candidate-is-later", sms(received_at=T0), [email(received_at=T0 + timedelta(hours=1))], None),
    ("itself", sms(), [sms()], None),
    ("no-candidates", email(), [], None),
    ("short-texts-differ", sms(id="01B", text="jalan rusak"), [sms(text="jalan rusak parah di sini")], None),
]


@pytest.mark.parametrize(("new", "candidates", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_find_duplicate(new: Complaint, candidates: list[Complaint], expected: tuple[str, str] | None) -> None:
    match = find_duplicate(new, candidates, window=WINDOW, threshold=0.8)
    got = None if match is None else (match.parent_id, match.matched_on)
    assert got == expected
    if match is not None:
        assert 0.8 <= match.similarity <= 1.0


@pytest.mark.parametrize(
    ("first", "second", "low", "high"),
    [
        (SMS_TEXT, SMS_TEXT, 1.0, 1.0),
        (SMS_TEXT, SMS_TEXT.upper() + "!!!", 1.0, 1.0),  # case and punctuation do not count
        (SMS_TEXT, EMAIL_TEXT, 0.95, 1.0),  # greeting and signature around the same text
        (SMS_TEXT, "#anonim " + SMS_TEXT, 1.0, 1.0),  # markers are taken out
        (SMS_TEXT, "Lampu jalan di Jl. Mawar mati sejak seminggu", 0.0, 0.2),
        ("", SMS_TEXT, 0.0, 0.0),
    ],
    ids=["identical", "case-punctuation", "wrapped-email", "marker", "unrelated", "empty"],
)
def test_similarity(first: str, second: str, low: float, high: float) -> None:
    assert low <= similarity(first, second) <= high
    assert similarity(first, second) == similarity(second, first)


def test_contact_keys_cover_reporter_and_text() -> None:
    assert contact_keys(email()) == {
        "id:budi@example.com",
        "mailto:budi@example.com",
        "tel:+6281234567890",
    }
    assert "mailto:budi@example.com" in contact_keys(tweet())


def test_mark_duplicate_links_and_explains() -> None:
    match = find_duplicate(email(), [sms()], window=WINDOW, threshold=0.8)
    assert match is not None
    marked = mark_duplicate(email(), match)
    assert marked.thread.relation == "duplicate" and marked.thread.parent_id == "01SMS"
    (insight,) = marked.insights
    assert (insight.kind, insight.value, insight.decided_by) == ("duplicate_of", "01SMS", "rule")
    assert insight.detail == {"matched_on": "contact_in_text"}
    assert mark_duplicate(marked, match).insights == marked.insights  # idempotent

"""The mapping from the canonical record to the registry's request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import pytest

from gateway.records import Complaint, Reference
from gateway.registry.contract import complaint_request, follow_up_request
from tests.registry.complaints import DEDUP_KEY, EMAIL, IDENTIFYING, IDENTITY, PHONE, complaint

PRIVACY_CASES = [
    # (anonim, rahasia, reporter sent, dedup key sent)
    (False, False, True, True),
    (False, True, True, True),
    (True, False, False, False),
    (True, True, False, False),
]
PRIVACY_IDS = ["public", "rahasia", "anonim", "anonim-and-rahasia"]


@pytest.mark.parametrize(("anonim", "rahasia", "with_reporter", "with_dedup"), PRIVACY_CASES, ids=PRIVACY_IDS)
def test_complaint_request_privacy(anonim: bool, rahasia: bool, with_reporter: bool, with_dedup: bool) -> None:
    request = complaint_request(complaint(anonim=anonim, rahasia=rahasia))
    assert request["anonim"] is anonim
    assert request["rahasia"] is rahasia
    assert ("reporter" in request) is with_reporter
    assert request["dedup_key"] == (DEDUP_KEY if with_dedup else None)
    if with_reporter:
        assert request["reporter"]["phone"] == PHONE
        assert request["reporter"]["email"] == EMAIL
        assert request["reporter"]["identity"] == IDENTITY


@pytest.mark.parametrize(
    "build",
    [complaint_request, follow_up_request],
    ids=["complaint", "follow-up"],
)
def test_anonymous_request_carries_no_identity_anywhere(build: Callable[[Complaint], Mapping[str, object]]) -> None:
    """Not just the reporter field: no identifying string anywhere in the serialized body."""
    text = json.dumps(build(complaint(anonim=True)), ensure_ascii=False)
    leaked = [value for value in IDENTIFYING if value in text]
    assert leaked == []
    assert "reply_to" not in text and "conversation_key" not in text


def test_identified_request_does_carry_identity() -> None:
    """The counterpart: the leak check above would notice a phone number if one were there."""
    text = json.dumps(complaint_request(complaint(anonim=False)), ensure_ascii=False)
    assert PHONE in text and EMAIL in text


def test_complaint_request_fields() -> None:
    request = complaint_request(complaint())
    assert request["title"] == "Jalan di depan SDN 3 Cibinong rusak parah"
    assert request["body"].startswith("Jalan di depan SDN 3")
    assert request["language"] == "id"
    assert request["classification"] == "pengaduan"
    assert request["channel"] == "twilio"
    assert request["received_at"] == "2026-11-30T02:15:00+00:00"
    assert request["incident_date"] == "2026-11-28"
    assert request["location"] == {
        "text": "Jl. Raya Cibinong",
        "latitude": -6.4817,
        "longitude": 106.854,
        "region_codes": ["32.01"],
    }
    assert request["attachments"] == [
        {
            "media_type": "image/jpeg",
            "url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "sha256": "b" * 64,
            "name": "lubang.jpg",
            "size": 2048,
        }
    ]
    assert request["target"] == {"agency": "Dinas PUPR Kabupaten Bogor", "category": "infrastruktur"}
    assert request["external_refs"] == {"gateway_id": "01JD0000000000000000000001"}
    assert request["thread"] == {"relation": "new", "parent_id": None, "references": []}


@pytest.mark.parametrize(
    ("references", "expected"),
    [
        ((), []),
        ((Reference(kind="tracking_id", value="1916449"),), [{"kind": "tracking_id", "value": "1916449"}]),
        ((Reference(kind="message_id", value=f"<abc@{EMAIL.split('@')[1]}>"),), []),
        ((Reference(kind="conversation", value=PHONE),), []),
        (
            (Reference(kind="tracking_id", value="1916449"), Reference(kind="tracking_id", value="1916449")),
            [{"kind": "tracking_id", "value": "1916449"}],
        ),
    ],
    ids=["none", "tracking-id", "message-id-dropped", "conversation-dropped", "duplicate-collapsed"],
)
def test_only_registry_references_are_sent(references: tuple[Reference, ...], expected: list[dict[str, str]]) -> None:
    assert complaint_request(complaint(references=references))["thread"]["references"] == expected


def test_follow_up_request_fields() -> None:
    request = follow_up_request(complaint(relation="follow_up", text="jalan masih rusak"))
    assert request["body"] == "jalan masih rusak"
    assert request["relation"] == "follow_up"
    assert request["external_refs"] == {"gateway_id": "01JD0000000000000000000001"}
    assert request["reporter"]["phone"] == PHONE
    assert len(request["attachments"]) == 1


def test_mapping_is_deterministic() -> None:
    assert complaint_request(complaint()) == complaint_request(complaint())

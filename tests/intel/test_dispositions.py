"""Final dispositions become training lines in the format `routing train --data` reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gateway.intel.dispositions import disposition_from, training_line
from gateway.intel.routing_rules import RoutingRules
from gateway.records import Body, Complaint, RawRef, Reporter


def _complaint() -> Complaint:
    return Complaint(
        id="C1", channel="email", received_at=datetime(2026, 11, 1, 8, tzinfo=UTC),
        raw=RawRef(ids=("r",), sha256=("0" * 64,)), reporter=Reporter(identity="a@b.id"),
        title="t", body=Body(text="air pdam mati"), dedup_key="d",
    )


@pytest.mark.parametrize(
    ("registry_agency", "expected"),
    [("EXAMPLE-3273-TIRTAWENING", "pdam"), ("pdam", "pdam"), ("SOMEONE-ELSE", None)],
    ids=["registry-id", "rules-id", "unknown"],
)
def test_disposition_from(rules: RoutingRules, registry_agency: str, expected: str | None) -> None:
    found = disposition_from(_complaint(), registry_agency=registry_agency, classification="pengaduan", rules=rules)
    assert (found.agency if found else None) == expected


def test_training_line(rules: RoutingRules) -> None:
    found = disposition_from(
        _complaint(), registry_agency="EXAMPLE-3273-TIRTAWENING", classification="aspirasi", rules=rules,
    )
    assert found is not None
    row = json.loads(training_line(found))
    assert row == {"text": "air pdam mati", "agency": "pdam", "received_at": "2026-11-01T08:00:00+00:00",
                   "class": "aspirasi"}

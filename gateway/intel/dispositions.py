"""Final dispositions from the registry, kept as training data for the router and the class rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from gateway.intel.routing_rules import RoutingRules
from gateway.records import Classification, Complaint


@dataclass(frozen=True, slots=True)
class Disposition:
    """What the registry finally recorded for a complaint: agency (its registry id) and class."""

    complaint_id: str
    text: str
    received_at: datetime
    agency: str
    classification: Classification | None


def disposition_from(
    complaint: Complaint, *, registry_agency: str, classification: Classification | None, rules: RoutingRules,
) -> Disposition | None:
    """Map the registry's agency id back to the rules file's agency; None when the agency is unknown here."""
    by_registry = {a.registry_id: a.id for a in rules.spec.agencies}
    agency = by_registry.get(registry_agency, registry_agency if registry_agency in rules.agencies else None)
    if agency is None:
        return None
    return Disposition(complaint.id, complaint.body.text, complaint.received_at, agency, classification)


def training_line(disposition: Disposition) -> str:
    """One JSON line in the format `routing train --data` reads."""
    row: dict[str, str] = {
        "text": disposition.text,
        "agency": disposition.agency,
        "received_at": disposition.received_at.isoformat(),
    }
    if disposition.classification is not None:
        row["class"] = disposition.classification
    return json.dumps(row, ensure_ascii=False)

"""When escalation is offered, the export batch, and `escalations export` from the command line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import Settings
from gateway.commands.lifecycle import escalations_app
from gateway.lifecycle.escalation import (
    EXPORT_SCHEMA,
    Escalation,
    EscalationCase,
    build_export,
    should_offer,
)
from gateway.lifecycle.status import Stage
from gateway.records import Deadlines
from tests.lifecycle.complaints import build_complaint

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
DL = Deadlines(escalation_from=T0 + timedelta(days=60))
OFFERED = Escalation(complaint_id="c1", state="offered", offered_at=T0)


@pytest.mark.parametrize(
    ("stage", "deadlines", "now", "escalation", "expected"),
    [
        (Stage.IN_PROGRESS, DL, T0 + timedelta(days=61), None, True),
        (Stage.RESPONDED, DL, T0 + timedelta(days=61), None, True),
        (Stage.IN_PROGRESS, DL, T0 + timedelta(days=59), None, False),
        (Stage.IN_PROGRESS, DL, T0 + timedelta(days=60), None, False),  # at the deadline, not past it
        (Stage.CLOSED, DL, T0 + timedelta(days=61), None, False),
        (Stage.REJECTED, DL, T0 + timedelta(days=61), None, False),
        (Stage.IN_PROGRESS, DL, T0 + timedelta(days=90), OFFERED, False),  # offered once only
        (Stage.IN_PROGRESS, Deadlines(), T0 + timedelta(days=90), None, False),
    ],
    ids=[
        "past-deadline",
        "responded-unresolved",
        "before",
        "at-deadline",
        "closed",
        "rejected",
        "already-offered",
        "no-deadline",
    ],
)
def test_should_offer(
    stage: Stage, deadlines: Deadlines, now: datetime, escalation: Escalation | None, expected: bool
) -> None:
    assert should_offer(stage, deadlines, now, escalation) is expected


def case(cid: str, *, consented_days: int, anonim: bool = False, rahasia: bool = False) -> EscalationCase:
    complaint = build_complaint(
        id=cid, received_at=T0, tracking_id=f"T{cid}", anonim=anonim, rahasia=rahasia, status="ditindaklanjuti"
    )
    escalation = Escalation(
        complaint_id=cid,
        state="consented",
        offered_at=T0 + timedelta(days=61),
        consented_at=T0 + timedelta(days=61 + consented_days),
    )
    return EscalationCase(complaint=complaint, escalation=escalation)


def test_export_orders_and_protects_anonymous_reporters() -> None:
    batch = build_export(
        [case("b", consented_days=2), case("a", consented_days=1, anonim=True, rahasia=True)],
        generated_at=T0 + timedelta(days=70),
    )
    document = json.loads(batch.model_dump_json())
    assert document["schema_id"] == EXPORT_SCHEMA and document["count"] == 2
    first, second = document["items"]
    assert [first["complaint_id"], second["complaint_id"]] == ["a", "b"]
    assert first["reporter"] is None and first["anonymous"] is True and first["confidential"] is True
    assert "+6281234567890" not in json.dumps(first) and "Budi" not in json.dumps(first)
    assert second["reporter"] == {
        "name": "Budi Santoso",
        "phone": "+6281234567890",
        "email": None,
        "handle": None,
        "channel": "twilio",
    }
    assert second["tracking_id"] == "Tb" and second["status"] == "ditindaklanjuti"


def test_export_refuses_unconsented() -> None:
    unconsented = EscalationCase(complaint=build_complaint(id="x", received_at=T0), escalation=OFFERED)
    with pytest.raises(ValueError, match="consented"):
        build_export([unconsented], generated_at=T0)


class MemoryEscalations:
    """EscalationRepository in memory."""

    def __init__(self, cases: Sequence[EscalationCase]) -> None:
        self.cases = list(cases)
        self.exported: dict[str, datetime] = {}

    async def consented(self, *, include_exported: bool) -> Sequence[EscalationCase]:
        return [c for c in self.cases if include_exported or c.complaint.id not in self.exported]

    async def mark_exported(self, complaint_ids: Sequence[str], at: datetime) -> None:
        self.exported.update(dict.fromkeys(complaint_ids, at))


@pytest.fixture
def repo() -> MemoryEscalations:
    return MemoryEscalations([case("a", consented_days=1), case("b", consented_days=2)])


def cli(repo: MemoryEscalations):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def open_repository(settings: Settings) -> AsyncIterator[MemoryEscalations]:
        yield repo

    return escalations_app(open_repository)


def test_cli_export_to_file_then_nothing_new(repo: MemoryEscalations, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "batch" / "escalations.json"
    result = runner.invoke(cli(repo), ["export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    assert [i["complaint_id"] for i in document["items"]] == ["a", "b"]
    assert set(repo.exported) == {"a", "b"}
    again = runner.invoke(cli(repo), ["export"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["count"] == 0
    everything = runner.invoke(cli(repo), ["export", "--include-exported", "--no-mark"])
    assert json.loads(everything.stdout)["count"] == 2


def test_cli_no_mark_leaves_state(repo: MemoryEscalations) -> None:
    result = CliRunner().invoke(cli(repo), ["export", "--no-mark"])
    assert result.exit_code == 0 and json.loads(result.stdout)["count"] == 2
    assert repo.exported == {}


def test_cli_unwritable_out_marks_nothing(repo: MemoryEscalations, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli(repo), ["export", "--out", str(blocker / "sub" / "e.json")])
    assert result.exit_code != 0
    assert repo.exported == {}


def test_cli_bad_config_exits_2(repo: MemoryEscalations, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(repo), ["export", "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2

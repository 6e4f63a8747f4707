"""`routing train|predict|evaluate` and `spam release|confirm` through typer's runner."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import Settings
from gateway.commands.routing import routing_app, spam_app
from gateway.intel.router import Example, load_examples
from gateway.intel.spam import SPAM_FLAG
from gateway.intel.spam_review import CONFIRMED_FLAG, RELEASED_FLAG, ReviewDecision
from gateway.records import Body, Complaint, RawRef, Reporter
from tests.intel.conftest import DEVSET, RULES

runner = CliRunner()


def test_train_evaluate_predict(tmp_path: Path) -> None:
    app = routing_app()
    model = tmp_path / "router.model"
    trained = runner.invoke(app, ["train", "--data", str(DEVSET), "--out", str(model), "--rules", str(RULES),
                                  "--before", "2026-10-01T00:00:00Z"])
    assert trained.exit_code == 0, trained.output
    assert "shadow" in trained.output

    evaluated = runner.invoke(app, ["evaluate", "--model", str(model), "--data", str(DEVSET), "--rules", str(RULES),
                                    "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    figures = json.loads(evaluated.output)
    assert figures["examples"] == 96 and figures["accuracy"] >= 0.75

    lines = '{"text": "air pdam tidak mengalir"}\n\n{"text": "PJU mati"}\n'
    predicted = runner.invoke(app, ["predict", "--model", str(model)], input=lines)
    assert predicted.exit_code == 0, predicted.output
    rows = [json.loads(line) for line in predicted.output.splitlines()]
    assert [r["agency"] for r in rows] == ["pdam", "dishub"]
    assert all(set(r) == {"agency", "confidence", "auto", "top"} and len(r["top"]) == 3 for r in rows)
    assert not any(r["auto"] for r in rows)  # shadow mode


def test_train_from_the_database_source(tmp_path: Path) -> None:
    seen: list[Settings] = []

    def dispositions(settings: Settings) -> list[Example]:
        seen.append(settings)
        return load_examples(DEVSET)

    result = runner.invoke(routing_app(dispositions), ["train", "--out", str(tmp_path / "m"), "--rules", str(RULES)])
    assert result.exit_code == 0, result.output
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["train", "--out", "OUT"], "", 2, "no --data given"),
        (["evaluate", "--model", "MISSING", "--data", str(DEVSET)], "", 2, "router model not found"),
        (["predict", "--model", "MODEL"], "not json\n", 1, "expected a JSON object"),
        (["evaluate", "--model", "MODEL", "--data", str(DEVSET), "--from", "2030-01-01"], "", 2, "no examples after"),
    ],
    ids=["train-without-data-or-source", "missing-model", "predict-bad-line", "nothing-to-evaluate"],
)
def test_failures(tmp_path: Path, args: list[str], stdin: str, code: int, message: str, model_path: Path) -> None:
    args = [str(model_path) if a == "MODEL" else str(tmp_path / "x") if a in ("OUT", "MISSING") else a for a in args]
    result = runner.invoke(routing_app(), args, input=stdin)
    assert result.exit_code == code
    assert message in result.output


class _Store:
    """An in-memory SpamReviewStore (the protocol the storage layer implements)."""

    def __init__(self, complaint: Complaint) -> None:
        self.complaints = {complaint.id: complaint}
        self.saved: list[tuple[Complaint, ReviewDecision]] = []

    async def get(self, complaint_id: str) -> Complaint | None:
        return self.complaints.get(complaint_id)

    async def save_review(self, complaint: Complaint, decision: ReviewDecision) -> None:
        self.complaints[complaint.id] = complaint
        self.saved.append((complaint, decision))


def _held() -> Complaint:
    return Complaint(
        id="C1", channel="twilio", received_at=datetime(2026, 11, 1, tzinfo=UTC),
        raw=RawRef(ids=("r",), sha256=("0" * 64,)), reporter=Reporter(identity="+628120000"),
        title="t", body=Body(text="hadiah"), dedup_key="d", flags=(SPAM_FLAG,),
    )


@pytest.mark.parametrize(
    ("command", "complaint_id", "code", "flag"),
    [("release", "C1", 0, RELEASED_FLAG), ("confirm", "C1", 0, CONFIRMED_FLAG), ("release", "NOPE", 1, None)],
    ids=["release", "confirm", "unknown-id"],
)
def test_spam_commands(command: str, complaint_id: str, code: int, flag: str | None) -> None:
    store = _Store(_held())

    @asynccontextmanager
    async def open_store(settings: Settings) -> AsyncIterator[_Store]:
        yield store

    result = runner.invoke(spam_app(open_store), [command, complaint_id, "--operator", "ops-1"])
    assert result.exit_code == code, result.output
    if flag is not None:
        assert flag in store.complaints["C1"].flags
        assert store.complaints["C1"].status_history[-1].note == "ops-1"
        again = runner.invoke(spam_app(open_store), [command, complaint_id])
        assert again.exit_code == 1 and "not held" in again.output
    else:
        assert store.saved == []

"""`lapor-gateway routing train|predict|evaluate` as CLI processes, on the dev set and on the database.

The dev set (tests/fixtures/intel/devset.jsonl) is composed by the project; the split is by time:
train before 2026-10-01, evaluate on the 96 messages after. The database source trains on dispositions
kept on stored complaint records (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.intel.router import load_examples
from gateway.intel.routing_rules import RoutingRules
from gateway.messages import utcnow
from gateway.records import Body, Complaint, RawRef, Reporter
from gateway.registry.base import RegistryState
from gateway.storage.db import Database
from gateway.storage.dispositions import record_disposition
from gateway.storage.tables import complaint
from tests.support.processes import CLI

REPO = Path(__file__).resolve().parents[2]
DEVSET = REPO / "tests" / "fixtures" / "intel" / "devset.jsonl"
RULES = RoutingRules.load(REPO / "config" / "routing.yaml")
SPLIT = "2026-10-01T00:00:00Z"


def _cli(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd,
                          input=stdin, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained by the CLI on the dev set before the split."""
    path = tmp_path_factory.mktemp("routing") / "router.model"
    trained = _cli("routing", "train", "--data", str(DEVSET), "--out", str(path), "--before", SPLIT, cwd=REPO)
    assert trained.returncode == 0, trained.stderr
    assert "trained on 211 examples" in trained.stderr and path.exists()
    return path


def test_evaluate_prints_the_figures(model: Path) -> None:
    evaluated = _cli("routing", "evaluate", "--model", str(model), "--data", str(DEVSET), "--json", cwd=REPO)
    assert evaluated.returncode == 0, evaluated.stderr
    figures = json.loads(evaluated.stdout)
    assert figures["examples"] == 96
    # The targets on unseen data; the dev set is composed, so these are an upper bound.
    assert figures["accuracy"] >= 0.75 and figures["top3"] >= 0.88
    table = _cli("routing", "evaluate", "--model", str(model), "--data", str(DEVSET), cwd=REPO)
    assert table.returncode == 0 and "accuracy" in table.stdout and "macro_f1" in table.stdout


@pytest.mark.parametrize(
    ("lines", "code", "agencies"),
    [
        ('{"text": "air pdam tidak mengalir sudah 3 hari"}\n{"text": "sampah numpuk di tps ga diangkut"}\n', 0,
         ["pdam", "dlh"]),
        ("\n", 0, []),
        ("not json\n", 1, []),
        ('{"body": "no text key"}\n', 1, []),
    ],
    ids=["two-texts", "blank", "not-json", "no-text-key"],
)
def test_predict_reads_json_lines(model: Path, lines: str, code: int, agencies: list[str]) -> None:
    predicted = _cli("routing", "predict", "--model", str(model), stdin=lines, cwd=REPO)
    assert predicted.returncode == code, predicted.stderr
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert [row["agency"] for row in rows] == agencies
    for row in rows:
        assert set(row) == {"agency", "confidence", "auto", "top"} and len(row["top"]) == 3
        assert isinstance(row["auto"], bool) and 0.0 <= row["confidence"] <= 1.0


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    result = _cli("routing", "predict", "--model", str(tmp_path / "none.model"), stdin="", cwd=REPO)
    assert result.returncode == 2 and "error" in result.stderr


async def _seed_dispositions(url: str) -> int:
    """Stored complaints of the dev set before the split, each closed by the registry with its agency."""
    registry_ids = {a.id: a.registry_id for a in RULES.spec.agencies}
    db = Database(url)
    count = 0
    try:
        async with db.begin() as connection:
            older = [e for e in load_examples(DEVSET) if e.received_at < datetime(2026, 10, 1, tzinfo=UTC)]
            for index, example in enumerate(older):
                record = Complaint(
                    id=f"01JDEV{index:020d}", channel="twilio", received_at=example.received_at,
                    raw=RawRef(ids=(f"raw{index}",), sha256=("0" * 64,)),
                    reporter=Reporter(identity=f"+62812{index:08d}"),
                    title=example.text[:60], body=Body(text=example.text), dedup_key=f"dev{index}",
                )
                now = utcnow()
                await connection.execute(sa.insert(complaint).values(
                    id=record.id, channel=record.channel, received_at=record.received_at, raw_id=f"raw{index}",
                    reporter_identity=record.reporter.identity, dedup_key=record.dedup_key, status="selesai",
                    record=record.model_dump_json(), created_at=now, updated_at=now,
                ))
                state = RegistryState(tracking_id=str(index), status="selesai", agency=registry_ids[example.agency])
                count += await record_disposition(connection, record.id, state)
    finally:
        await db.dispose()
    return count


async def test_train_without_data_uses_the_database(database_url: str, tmp_path: Path) -> None:
    assert await _seed_dispositions(database_url) == 211
    path = tmp_path / "db.model"
    env = {"LAPOR_GATEWAY_DATABASE__URL": database_url}
    trained = _cli("routing", "train", "--out", str(path), cwd=tmp_path, env=env)
    assert trained.returncode == 0, trained.stderr
    assert "trained on 211 examples" in trained.stderr
    evaluated = _cli("routing", "evaluate", "--model", str(path), "--data", str(DEVSET), "--json", cwd=REPO)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] >= 0.75


def test_train_without_data_on_an_empty_database_fails(sqlite_url: str, tmp_path: Path) -> None:
    env = {"LAPOR_GATEWAY_DATABASE__URL": sqlite_url}
    trained = _cli("routing", "train", "--out", str(tmp_path / "m"), cwd=tmp_path, env=env)
    assert trained.returncode == 2 and "at least two agencies" in trained.stderr
    assert not (tmp_path / "m").exists()

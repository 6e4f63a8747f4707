"""The complaint lifecycle with real processes: registry-sim moves a complaint, `lapor-gateway serve` follows it.

The registry's back office is played by `lapor-gateway registry-sim set-status` and `respond`; the
reporter's phone is the Twilio sandbox (`twilio-sim`). `stats`, /metrics and `escalations export`
are read from the outside as an operator would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.records import Complaint
from tests.support.processes import CLI, wait_for
from tests.support.twilio_stack import RunningStack, StackSecrets, twilio_stack

TWILIO_TOKEN = "e2e-lifecycle-twilio-token-4c3b"
REGISTRY_TOKEN = "e2e-lifecycle-registry-token-9d8e"
ACCOUNT = "ACe2e1111111111111111111111111111"
SECRETS = StackSecrets(account=ACCOUNT, twilio_token=TWILIO_TOKEN, registry_token=REGISTRY_TOKEN)
PHONE = "+6281234567811"
TEXT = "Saluran air di Jl. Pajajaran Bogor tersumbat, air meluap ke jalan setiap hujan"


@dataclass(frozen=True)
class Stack(RunningStack):
    workdir: Path

    @property
    def registry_db(self) -> Path:
        return self.workdir / "registry.db"

    @property
    def gateway_db(self) -> Path:
        return self.workdir / "gateway.db"

    def texts(self) -> list[str]:
        return [str(message["body"]) for message in self.sent()]

    def send_sms(self, sid: str, text: str) -> None:
        assert self.post_sms(sid, PHONE, text) == 200

    def sim_control(self, tracking_id: str, what: str, body: dict[str, str]) -> None:
        """registry-sim's sandbox endpoints: POST /sim/complaints/{id}/status or /responses."""
        request = urllib.request.Request(
            f"{self.registry_url}/sim/complaints/{tracking_id}/{what}", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {REGISTRY_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 201)

    def cli(self, *args: str) -> str:
        done = subprocess.run([CLI, *args], cwd=self.workdir, env=self.env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def record(self) -> Complaint:
        with sqlite3.connect(self.gateway_db) as connection:
            (row,) = connection.execute("SELECT record FROM complaint WHERE relation = 'new'").fetchall()
        return Complaint.model_validate_json(row[0])

    def column(self, query: str) -> Any:
        with sqlite3.connect(self.gateway_db) as connection:
            return connection.execute(query).fetchone()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    env = {
        # Poll every complaint about once a second instead of every five minutes.
        "LAPOR_GATEWAY_LIFECYCLE__POLL_SCHEDULE": '[{"until_age_hours": 24, "every_minutes": 0.02}]',
        "LAPOR_GATEWAY_LIFECYCLE__SYNC_IDLE_SECONDS": "0.2",
    }
    with twilio_stack(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}", SECRETS, extra_env=env) as running:
        yield Stack(running.gateway, running.gateway_url, running.registry_url, running.twilio_url,
                    {**os.environ, **running.env}, running.secrets, tmp_path)


def test_registry_changes_reach_the_record_the_reporter_stats_and_metrics(stack: Stack) -> None:
    stack.send_sms("SMlc-e2e-1", TEXT)
    wait_for(lambda: len(stack.sent()) == 1, what="the acknowledgement")
    tracking_id = stack.record().external.tracking_id
    assert tracking_id and f"#{tracking_id}" in stack.texts()[0]
    assert stack.record().deadlines.verify_by is not None, "deadlines stored at filing"

    # The registry's back office disposes the complaint to an agency (CLI), and the agency answers (endpoint).
    stack.cli("registry-sim", "set-status", tracking_id, "didisposisikan", "--db", str(stack.registry_db),
              "--agency", "Dinas PUPR Kota Bogor")
    stack.sim_control(tracking_id, "responses", {"text": "Saluran akan dibersihkan hari Kamis."})
    wait_for(lambda: any("ditanggapi" in text for text in stack.texts()), what="the agency's answer, told")
    answer = next(text for text in stack.texts() if "ditanggapi" in text)
    assert f"#{tracking_id}" in answer and "Kamis" in answer and len(answer) <= 320
    record = stack.record()
    assert record.status == "didisposisikan" and record.target.agency == "Dinas PUPR Kota Bogor"
    assert [c.source for c in record.status_history][-2:] == ["registry", "agency"]
    assert stack.column("SELECT status, agency FROM complaint") == ("didisposisikan", "Dinas PUPR Kota Bogor")

    stats = json.loads(stack.cli("stats", "--json"))
    assert stats["twilio"]["deadlines"] == {
        "Dinas PUPR Kota Bogor": {"on_time": 1, "due_soon": 0, "breached": 0}
    }
    table = stack.cli("stats")
    assert "Open complaints by deadline" in table and "Dinas PUPR Kota Bogor" in table
    with urllib.request.urlopen(f"{stack.gateway_url}/metrics") as response:
        metrics = response.read().decode()
    assert 'lapor_open_complaints{agency="Dinas PUPR Kota Bogor",channel="twilio",state="on_time"} 1.0' in metrics

    # BERHENTI: confirmed, and the closing is not told any more.
    stack.send_sms("SMlc-e2e-stop", "BERHENTI")
    wait_for(lambda: any("MULAI" in text for text in stack.texts()), what="the opt-out confirmation")
    sent = len(stack.sent())
    stack.sim_control(tracking_id, "status", {"status": "selesai"})
    wait_for(lambda: stack.record().status == "selesai", what="the closing in the gateway's record")
    wait_for(lambda: stack.column("SELECT finished FROM complaint_lifecycle")[0] == 1, what="polling finished")
    assert len(stack.sent()) == sent, "nothing sent after BERHENTI"
    assert json.loads(stack.cli("stats", "--json"))["twilio"].get("deadlines") is None, "closed: not open any more"

    stack.gateway.stop()
    logs = stack.gateway.output()
    assert "lifecycle.status_changed" in logs
    assert PHONE not in logs and TWILIO_TOKEN not in logs and REGISTRY_TOKEN not in logs


def test_escalations_export_prints_the_consented_batch(stack: Stack) -> None:
    stack.send_sms("SMlc-e2e-esc", TEXT)
    wait_for(lambda: len(stack.sent()) == 1, what="the acknowledgement")
    record = stack.record()

    # Sixty days cannot pass in a test: the reporter's YA to an offer is written as the pipeline would.
    now = datetime.now(UTC).isoformat(sep=" ")
    with sqlite3.connect(stack.gateway_db) as connection:
        connection.execute(
            "UPDATE complaint_lifecycle SET escalation_state = 'consented', offered_at = ?, consented_at = ?"
            " WHERE id = ?", (now, now, record.id),
        )
    batch = json.loads(stack.cli("escalations", "export"))
    assert batch["schema_id"] == "lapor-gateway.escalations/v1"
    (item,) = batch["items"]
    assert (batch["count"], item["complaint_id"], item["tracking_id"]) == (1, record.id, record.external.tracking_id)
    assert item["reporter"]["phone"] == PHONE and item["body"] == TEXT
    again = json.loads(stack.cli("escalations", "export"))
    assert (again["count"], again["items"]) == (0, []), "marked exported: not in the next batch"

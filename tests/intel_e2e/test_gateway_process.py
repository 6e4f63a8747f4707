"""Text intelligence through real processes: registry-sim, the Twilio stand-in and `lapor-gateway serve`.

Signed Twilio webhooks go in; the registry, the Twilio sandbox's sent messages, the gateway's own
database and its log output are what the tests look at. One stack per database backend.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.acks import SEGMENT_GSM7, gsm7_length
from gateway.storage.db import sync_url
from tests.intel_e2e.corpus_rows import held_out_spam
from tests.support.postgres import temporary_database
from tests.support.processes import CLI, wait_for
from tests.support.twilio_stack import RunningStack, StackSecrets, twilio_stack

TWILIO_TOKEN = "intel-e2e-twilio-token-5e6f"
REGISTRY_TOKEN = "intel-e2e-registry-token-7a8b"
ACCOUNT = "ACintel00000000000000000000000000"
SECRETS = StackSecrets(account=ACCOUNT, twilio_token=TWILIO_TOKEN, registry_token=REGISTRY_TOKEN)
NIK = "3273012345678901"
SIXTEEN_DIGITS = re.compile(r"(?<!\d)\d{16}(?!\d)")


@dataclass(frozen=True)
class Stack(RunningStack):
    database_url: str

    def filed_by(self, sender: str) -> list[dict[str, Any]]:
        return [c for c in self.complaints() if c.get("reporter", {}).get("identity") == sender]

    def sent_to(self, sender: str) -> list[str]:
        return [m["body"] for m in self.sent() if m["to"] == sender]

    def send_sms(self, sid: str, sender: str, text: str) -> None:
        assert self.post_sms(sid, sender, text) == 200

    def query(self, statement: str, **params: object) -> list[sa.Row[Any]]:
        engine = sa.create_engine(sync_url(self.database_url))
        try:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(statement), params))
        finally:
            engine.dispose()

    def stored(self, sender: str) -> tuple[str, dict[str, Any], str] | None:
        """(complaint id, record, dispatch job state) of a reporter's complaint in the gateway's database."""
        rows = self.query(
            "SELECT c.id, c.record, j.state FROM complaint c JOIN dispatch_job j ON j.complaint_id = c.id"
            " WHERE c.reporter_identity = :sender", sender=sender,
        )
        if not rows:
            return None
        (row,) = rows
        return str(row.id), json.loads(row.record), str(row.state)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """An operator's `lapor-gateway ARGS` against the same database."""
        env = {**os.environ, "LAPOR_GATEWAY_DATABASE__URL": self.database_url}
        return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, check=False, env=env)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp(f"intel-{request.param}")
    if request.param == "sqlite":
        yield from _stack(workdir, f"sqlite:///{workdir / 'gateway.db'}")
    else:
        with temporary_database() as url:
            yield from _stack(workdir, url)


def _stack(workdir: Path, database_url: str) -> Iterator[Stack]:
    # No [intel] settings at all: the defaults (Kota Bandung, config/routing.yaml) must be what runs.
    with twilio_stack(workdir, database_url, SECRETS) as running:
        yield Stack(running.gateway, running.gateway_url, running.registry_url, running.twilio_url, running.env,
                    running.secrets, database_url)


def _insight(record: dict[str, Any], kind: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [i for i in record["insights"] if i["kind"] == kind]
    assert found, f"no {kind} insight in {record['insights']}"
    return found[0]


def test_complaint_is_classified_located_and_routed(stack: Stack) -> None:
    sender = "+6281300000001"
    text = ("Tempat pembuangan sampah sementara di Kelurahan Sukagalih sudah penuh dan sampah meluber ke jalan. "
            "Mohon segera diangkut.")
    stack.send_sms("SMintel-routed", sender, text)
    wait_for(lambda: stack.filed_by(sender), what="the complaint in the registry")
    (filed,) = stack.filed_by(sender)
    assert filed["target"] == {"agency": "EXAMPLE-3273-DLH", "category": "persampahan_lingkungan"}
    assert filed["classification"] == "pengaduan"
    assert filed["location"]["region_codes"] == ["32", "32.73", "32.73.07", "32.73.07.1004"]

    stored = stack.stored(sender)
    assert stored is not None
    _, record, _ = stored
    assert record["location"]["level"] == "kelurahan" and record["location"]["confidence"] > 0.5
    assert _insight(record, "agency")["value"] == "dlh"
    assert _insight(record, "region")["value"] == "32.73.07.1004"
    assert _insight(record, "classification")["decided_by"] == "rule"
    assert record["body"]["text"] == text  # the stored text is never rewritten
    wait_for(lambda: stack.sent_to(sender), what="the acknowledgement")
    (ack,) = stack.sent_to(sender)
    assert f"#{filed['tracking_id']}" in ack and "kelurahan" not in ack.lower()


def test_no_kelurahan_means_the_acknowledgement_asks_for_it(stack: Stack) -> None:
    sender = "+6281300000002"
    stack.send_sms("SMintel-ask", sender, "Lampu PJU mati sudah seminggu, jalan gelap sekali malam hari")
    wait_for(lambda: stack.sent_to(sender), what="the acknowledgement")
    (ack,) = stack.sent_to(sender)
    (filed,) = stack.filed_by(sender)
    assert "kelurahan" in ack and f"#{filed['tracking_id']}" in ack
    length = gsm7_length(ack)
    assert length is not None and length <= SEGMENT_GSM7, ack
    assert filed["target"]["agency"] == "EXAMPLE-3273-DISHUB"
    assert not filed["location"] or not filed["location"]["region_codes"]


def _held_spam(stack: Stack, sid: str, sender: str, source_file: str) -> str:
    stack.send_sms(sid, sender, held_out_spam(source_file))
    wait_for(lambda: stack.stored(sender) is not None, what="the stored spam")
    stored = stack.stored(sender)
    assert stored is not None
    complaint_id, record, state = stored
    assert "suspected_spam" in record["flags"] and state == "held"
    assert _insight(record, "spam")["value"] == "suspected"
    return complaint_id


def _nothing_for(stack: Stack, sender: str, seconds: float = 1.5) -> None:
    """Several dispatcher and reply cycles (poll 0.2 s) pass without anything filed or sent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert stack.filed_by(sender) == [] and stack.sent_to(sender) == []
        time.sleep(0.3)


def test_spam_is_held_until_released(stack: Stack) -> None:
    sender = "+6281300000003"
    complaint_id = _held_spam(stack, "SMintel-spam-release", sender, "prize/17.txt")
    _nothing_for(stack, sender)

    released = stack.cli("spam", "release", complaint_id, "--operator", "e2e")
    assert released.returncode == 0, released.stderr
    wait_for(lambda: stack.filed_by(sender), what="the released complaint in the registry")
    wait_for(lambda: stack.sent_to(sender), what="the acknowledgement after release")
    stored = stack.stored(sender)
    assert stored is not None and stored[2] == "done"
    assert "suspected_spam" not in stored[1]["flags"] and "spam_released" in stored[1]["flags"]


def test_confirmed_spam_stays_held_and_unacknowledged(stack: Stack) -> None:
    sender = "+6281300000004"
    complaint_id = _held_spam(stack, "SMintel-spam-confirm", sender, "loan/23.txt")
    confirmed = stack.cli("spam", "confirm", complaint_id)
    assert confirmed.returncode == 0, confirmed.stderr
    _nothing_for(stack, sender)
    stored = stack.stored(sender)
    assert stored is not None and stored[2] == "held"
    assert stored[1]["status"] == "spam" and "spam_confirmed" in stored[1]["flags"]
    again = stack.cli("spam", "release", complaint_id)
    assert again.returncode == 1 and "not held" in again.stderr


def test_logs_never_hold_a_nik(stack: Stack) -> None:
    sender = "+6281300000005"
    stack.send_sms("SMintel-nik", sender, f"Sy sdh rekam KTP dgn NIK {NIK} di kel. sukagalih tp blm jadi2 sdh 3 bln")
    wait_for(lambda: stack.sent_to(sender), what="the acknowledgement")
    (filed,) = stack.filed_by(sender)
    assert NIK in filed["body"]  # the registry gets the text as written; only logs are masked
    stack.gateway.stop()
    logs = stack.gateway.output()
    assert "dispatch.filed" in logs and "intel.context_loaded" in logs
    assert NIK not in logs
    assert "rekam KTP" not in logs  # nor the message text at all (database drivers log statements at DEBUG)
    assert not SIXTEEN_DIGITS.search(logs), SIXTEEN_DIGITS.search(logs)
    assert "6281300000005" not in logs  # the reporter's number is masked too

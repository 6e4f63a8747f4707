"""Two ingest and two dispatch processes on one PostgreSQL: no job sent twice, none stuck."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.faults.stack import Deployment, filed_sids, message, post_sms, send_many
from tests.support.ports import free_port
from tests.support.postgres import temporary_database
from tests.support.processes import http_json, wait_for

MESSAGES = 800


def test_two_ingest_two_dispatch_processes(tmp_path: Path) -> None:
    with temporary_database() as url:
        deployment = Deployment(tmp_path, url)
        try:
            deployment.start_backends()
            ingest_ports = [free_port(), free_port()]
            dispatch_ports = [free_port(), free_port()]
            for index, port in enumerate(ingest_ports):
                deployment.start_gateway(f"ingest{index}", port, "--role", "ingest")
            for index, port in enumerate(dispatch_ports):
                deployment.start_gateway(f"dispatch{index}", port, "--role", "dispatch")

            # Mixed load: new complaints over both ingest processes, redeliveries to the other one.
            statuses = send_many(ingest_ports, range(MESSAGES), workers=16)
            assert Counter(statuses.values()) == {200: MESSAGES}
            for index in range(0, MESSAGES, 10):
                sid, sender, text = message(index)
                assert post_sms(ingest_ports[(index + 1) % 2], sid, sender, text) == 200

            wait_for(lambda: len(deployment.complaints()) >= MESSAGES, timeout=180, what="every complaint filed")
            wait_for(lambda: len(deployment.sent()) >= MESSAGES, timeout=120, what="every acknowledgement")
            filed = Counter(filed_sids(deployment.complaints()))
            assert len(filed) == MESSAGES and max(filed.values()) == 1
            acks = Counter(sent["to"] for sent in deployment.sent())
            assert len(acks) == MESSAGES and max(acks.values()) == 1

            # None stuck, and both dispatchers did part of the work.
            for port in dispatch_ports:
                health = http_json(f"http://127.0.0.1:{port}/healthz")
                assert isinstance(health, dict)
                assert health["backlog"]["dispatch_pending"] == 0 and health["backlog"]["reply_pending"] == 0
            workers = [p for p in deployment.processes if p.name.startswith("dispatch")]
            for worker in workers:
                assert worker.output().count("dispatch.filed") > 0, f"{worker.name} filed nothing"
            ingest_health = http_json(f"http://127.0.0.1:{ingest_ports[0]}/healthz")
            assert isinstance(ingest_health, dict) and ingest_health["dispatcher_alive"] is None
        finally:
            deployment.stop()

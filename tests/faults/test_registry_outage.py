"""The registry fails, throttles or disappears: the backlog drains once it recovers, nothing is filed twice."""

from __future__ import annotations

import os
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.stack import Deployment, filed_sids, send_many
from tests.support.ports import free_port
from tests.support.processes import CLI, http_json, wait_for

OUTAGE_SECONDS = 60.0 if os.environ.get("LAPOR_LONG_FAULTS") else 8.0


def _registry_requests(deployment: Deployment) -> int:
    health = http_json(f"{deployment.registry_url}/healthz")
    assert isinstance(health, dict)
    return int(health["requests"])


@pytest.mark.parametrize(
    ("registry_args", "messages"),
    [
        (("--fail-rate", "0.5", "--fail-after-commit-rate", "0.2", "--seed", "7"), 150),
        (("--throttle-every", "3"), 80),
    ],
    ids=["half_failing_and_lost_answers", "throttled_429_retry_after"],
)
def test_flaky_registry_files_everything_once(tmp_path: Path, registry_args: tuple[str, ...], messages: int) -> None:
    deployment = Deployment(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}", registry_args=registry_args)
    try:
        deployment.start_backends()
        port = free_port()
        deployment.start_gateway("gateway", port)
        assert Counter(send_many([port], range(messages)).values()) == {200: messages}
        wait_for(lambda: len(deployment.complaints()) >= messages, timeout=120, what="everything filed")
        time.sleep(1)
        filed = Counter(filed_sids(deployment.complaints()))
        assert len(filed) == messages and max(filed.values()) == 1
        # No hot loop: with these fault rates a job needs a handful of tries, not hundreds.
        assert _registry_requests(deployment) < messages * 6
    finally:
        deployment.stop()


def test_registry_down_then_dead_letters_retried(tmp_path: Path) -> None:
    deployment = Deployment(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")
    try:
        deployment.start_backends()
        registry = next(p for p in deployment.processes if p.name == "registry")
        registry.stop()  # the registry is down
        port = free_port()
        gateway = deployment.start_gateway(
            "gateway", port,
            LAPOR_GATEWAY_DISPATCH__MAX_ATTEMPTS="4",
            LAPOR_GATEWAY_DISPATCH__BACKOFF_MAX_SECONDS="1",
        )
        assert Counter(send_many([port], range(40)).values()) == {200: 40}

        def dead() -> int:
            health = http_json(f"http://127.0.0.1:{port}/healthz")
            assert isinstance(health, dict)
            return int(health["backlog"]["dispatch_dead"])

        wait_for(lambda: dead() == 40, timeout=60, what="jobs past the retry cap dead-lettered")
        listed = subprocess.run([CLI, "outbox", "list", "--state", "dead", "--json"], capture_output=True,
                                text=True, env={**os.environ, **gateway.env}, cwd=tmp_path, check=True)
        lines = [line for line in listed.stdout.splitlines() if line.strip()]
        assert (len(lines) == 40 and "registry unreachable" in listed.stdout) or "unavailable" in listed.stdout

        time.sleep(OUTAGE_SECONDS)
        deployment.start_registry()  # back, same database file
        retried = subprocess.run([CLI, "outbox", "retry"], capture_output=True, text=True,
                                 env={**os.environ, **gateway.env}, cwd=tmp_path, check=True)
        assert "40 entries back" in retried.stdout
        wait_for(lambda: len(deployment.complaints()) >= 40, timeout=60, what="dead letters filed after retry")
        filed = Counter(filed_sids(deployment.complaints()))
        assert len(filed) == 40 and max(filed.values()) == 1
        wait_for(lambda: len(deployment.sent()) >= 40, timeout=60, what="acknowledgements after recovery")
    finally:
        deployment.stop()

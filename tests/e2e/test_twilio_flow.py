"""End to end with real processes: registry-sim, the Twilio stand-in and `lapor-gateway serve`."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import http_json, wait_for
from tests.support.twilio_stack import RunningStack, StackSecrets, twilio_stack

TWILIO_TOKEN = "e2e-twilio-token-9f8e7d6c5b4a"
REGISTRY_TOKEN = "e2e-registry-token-1a2b3c4d"
ACCOUNT = "ACe2e0000000000000000000000000000"
SECRETS = StackSecrets(account=ACCOUNT, twilio_token=TWILIO_TOKEN, registry_token=REGISTRY_TOKEN)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[RunningStack]:
    with twilio_stack(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}", SECRETS) as running:
        yield running


SENDERS = ["081234567801", "6281234567802", "+6281234567803", "whatsapp:+6281234567804"]


def test_sms_to_registry_and_back(stack: RunningStack) -> None:
    for index, sender in enumerate(SENDERS):
        text = f"Jalan rusak nomor {index} di Kel. Cipedes, mohon diperbaiki"
        assert stack.post_sms(f"SMe2e{index}", sender, text) == 200
    redelivered = "Jalan rusak nomor 0 di Kel. Cipedes, mohon diperbaiki"
    assert stack.post_sms("SMe2e0", SENDERS[0], redelivered) == 200

    wait_for(lambda: len(stack.complaints()) == len(SENDERS), what="complaints in the registry")
    wait_for(lambda: len(stack.sent()) == len(SENDERS), what="acknowledgements")
    complaints = stack.complaints()
    tracking = {c["reporter"]["identity"]: c["tracking_id"] for c in complaints}
    assert set(tracking) == {"+6281234567801", "+6281234567802", "+6281234567803", "+6281234567804"}
    for message in stack.sent():
        identity = message["to"].removeprefix("whatsapp:")
        assert f"#{tracking[identity]}" in message["body"]
        assert len(message["body"]) <= 160

    # A follow-up by tracking ID goes to the registry as a follow-up, not a new complaint.
    first = tracking["+6281234567801"]
    assert stack.post_sms("SMe2e-follow", SENDERS[0], f"#{first} sudah dua minggu belum diperbaiki") == 200

    def followed_up() -> bool:
        data = http_json(f"{stack.registry_url}/complaints/{first}", token=REGISTRY_TOKEN)
        assert isinstance(data, dict)
        return len(data["followups"]) == 1

    wait_for(followed_up, what="the follow-up in the registry")
    assert len(stack.complaints()) == len(SENDERS)
    wait_for(lambda: len(stack.sent()) == len(SENDERS) + 1, what="the follow-up acknowledgement")

    health = http_json(f"{stack.gateway_url}/healthz")
    assert isinstance(health, dict) and health["status"] == "ok" and health["dispatcher_alive"] is True
    with urllib.request.urlopen(f"{stack.gateway_url}/metrics") as response:
        metrics = response.read().decode()
    assert 'lapor_received_total{channel="twilio"} 5.0' in metrics
    assert 'lapor_duplicates_total{channel="twilio"} 1.0' in metrics

    stack.gateway.stop()
    logs = stack.gateway.output()
    assert "dispatch.filed" in logs
    assert TWILIO_TOKEN not in logs and REGISTRY_TOKEN not in logs
    for number in ("6281234567801", "81234567801", "6281234567804"):
        assert number not in logs, f"unmasked phone number {number} in logs"

"""registry-sim, the Twilio sandbox and a `lapor-gateway serve` with the Twilio channel, as real processes."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.processes import Process, http_json, start
from tests.support.twilio_signing import form_body, sign_form


@dataclass(frozen=True)
class StackSecrets:
    """The Twilio account and the tokens one stack's processes share."""

    account: str
    twilio_token: str
    registry_token: str


@dataclass(frozen=True)
class RunningStack:
    """The three processes, their base URLs, and the environment the gateway was started with."""

    gateway: Process
    gateway_url: str
    registry_url: str
    twilio_url: str
    env: dict[str, str]
    secrets: StackSecrets

    def complaints(self) -> list[dict[str, Any]]:
        """Every complaint registry-sim holds, all pages."""
        items: list[dict[str, Any]] = []
        page: int | None = 1
        while page:
            data = http_json(f"{self.registry_url}/complaints?page={page}", token=self.secrets.registry_token)
            assert isinstance(data, dict)
            items += data["items"]
            page = data["next_page"]
        return items

    def sent(self) -> list[dict[str, Any]]:
        """The messages the Twilio sandbox was asked to send."""
        data = http_json(f"{self.twilio_url}/sandbox/messages")
        assert isinstance(data, list)
        return data

    def post_sms(self, sid: str, sender: str, text: str) -> int:
        """Deliver an SMS to the gateway as Twilio would (signed); the HTTP status it answered."""
        body = form_body({"MessageSid": sid, "AccountSid": self.secrets.account, "From": sender, "To": "1708",
                          "Body": text})
        url = f"{self.gateway_url}/c/twilio/receive"
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign_form(self.secrets.twilio_token, url, body),
        })
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)


@contextmanager
def twilio_stack(
    workdir: Path, database_url: str, secrets: StackSecrets, *, extra_env: Mapping[str, str] | None = None
) -> Iterator[RunningStack]:
    """Start registry-sim, twilio-sim and the gateway pointed at both; stop all three afterwards."""
    registry_port, twilio_port, gateway_port = free_port(), free_port(), free_port()
    registry = start("registry", ["registry-sim", "--port", str(registry_port), "--token", secrets.registry_token,
                                  "--db", str(workdir / "registry.db")],
                     workdir=workdir, ready_url=f"http://127.0.0.1:{registry_port}/healthz")
    processes = [registry]
    try:
        processes.append(start("twilio", ["twilio-sim", "--port", str(twilio_port), "--account-sid", secrets.account,
                                          "--auth-token", secrets.twilio_token],
                               workdir=workdir, ready_url=f"http://127.0.0.1:{twilio_port}/sandbox/messages"))
        env = {
            "LAPOR_GATEWAY_SERVER__PORT": str(gateway_port),
            "LAPOR_GATEWAY_DATABASE__URL": database_url,
            "LAPOR_GATEWAY_REGISTRY__URL": f"http://127.0.0.1:{registry_port}",
            "LAPOR_GATEWAY_REGISTRY__TOKEN": secrets.registry_token,
            "LAPOR_GATEWAY_CHANNELS__TWILIO__ENABLED": "true",
            "LAPOR_GATEWAY_CHANNELS__TWILIO__ACCOUNT_SID": secrets.account,
            "LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN": secrets.twilio_token,
            "LAPOR_GATEWAY_CHANNELS__TWILIO__API_BASE_URL": f"http://127.0.0.1:{twilio_port}",
            "LAPOR_GATEWAY_DISPATCH__POLL_SECONDS": "0.2",
            "LAPOR_GATEWAY_LOGGING__LEVEL": "debug",
            **(extra_env or {}),
        }
        gateway = start("gateway", ["serve"], workdir=workdir, env=env,
                        ready_url=f"http://127.0.0.1:{gateway_port}/healthz")
        processes.append(gateway)
        yield RunningStack(gateway, f"http://127.0.0.1:{gateway_port}", f"http://127.0.0.1:{registry_port}",
                           f"http://127.0.0.1:{twilio_port}", env, secrets)
    finally:
        for process in reversed(processes):
            process.stop()

"""registry-sim, the Twilio sandbox and a `lapor-gateway serve` with the Twilio channel, as real processes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import Process, start


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
                           f"http://127.0.0.1:{twilio_port}", env)
    finally:
        for process in reversed(processes):
            process.stop()

"""The processes under test: `lapor-gateway serve` and the bare app, each on its own loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.procfs import children, cpu_seconds, peak_rss_mib, reset_peak, rss_mib

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "lapor-gateway")
TOKEN = "bench-twilio-token-8f7e6d5c4b3a"
ACCOUNT = "AC" + "b" * 32
RECEIVE = "/c/twilio/receive"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A started server process whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        """The server's process id (the Python process itself, not a wrapper)."""
        return self.popen.pid

    @property
    def receive_url(self) -> str:
        """Where the webhooks go; also the URL they are signed for."""
        return f"http://127.0.0.1:{self.port}{RECEIVE}"

    def peak_rss_mib(self) -> float:
        """VmHWM of the process plus that of its children (the gateway's pipeline process)."""
        return sum(peak_rss_mib(pid) or 0.0 for pid in (self.pid, *children(self.pid)))

    def rss_mib(self) -> float:
        """VmRSS of the process plus that of its children."""
        return sum(rss_mib(pid) or 0.0 for pid in (self.pid, *children(self.pid)))

    def reset_peak(self) -> bool:
        """Reset VmHWM of the process and its children; False if not allowed."""
        return all([reset_peak(pid) for pid in (self.pid, *children(self.pid))])

    def cpu_seconds(self) -> float:
        """CPU time the process and its running children used so far."""
        return sum(cpu_seconds(pid) or 0.0 for pid in (self.pid, *children(self.pid)))

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _start(name: str, command: list[str], *, port: int, workdir: Path, env: Mapping[str, str]) -> Server:
    """Start `command` with exactly `env` and wait until its /healthz answers."""
    log = workdir / f"{name}.log"
    with log.open("ab") as handle:
        popen = subprocess.Popen(command, cwd=workdir, env=dict(env), stdout=handle,
                                 stderr=subprocess.STDOUT)
    server = Server(name, popen, port, log)
    deadline = time.monotonic() + 60
    while True:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}:\n{log.read_text(errors='replace')}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            return server
        except urllib.error.HTTPError:
            return server  # it answers
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')}") from None
            time.sleep(0.1)


def gateway_environment(port: int, database_url: str, workdir: Path, *, sender_rate: int) -> dict[str, str]:
    """Settings of a benchmarked gateway, as environment variables."""
    return {
        "LAPOR_GATEWAY_SERVER__HOST": "127.0.0.1",
        "LAPOR_GATEWAY_SERVER__PORT": str(port),
        "LAPOR_GATEWAY_DATABASE__URL": database_url,
        "LAPOR_GATEWAY_DATABASE__SPOOL_DIR": str(workdir / f"spool-{port}"),
        "LAPOR_GATEWAY_CHANNELS__TWILIO__ENABLED": "true",
        "LAPOR_GATEWAY_CHANNELS__TWILIO__ACCOUNT_SID": ACCOUNT,
        "LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN": TOKEN,
        "LAPOR_GATEWAY_INGEST__SENDER_RATE_PER_MINUTE": str(sender_rate),
        "LAPOR_GATEWAY_LOGGING__LEVEL": "warning",
    }


def start_gateway(workdir: Path, database_url: str, *, role: str = "ingest", sender_rate: int = 1_000_000) -> Server:
    """`lapor-gateway serve --role ROLE` on a free port, migrated and ready."""
    port = free_port()
    env = gateway_environment(port, database_url, workdir, sender_rate=sender_rate)
    clean = {key: value for key, value in os.environ.items() if not key.startswith("LAPOR_GATEWAY_")}
    return _start(f"gateway-{role}-{port}", [CLI, "serve", "--role", role], port=port, workdir=workdir,
                  env={**clean, **env})


def start_bare(workdir: Path) -> Server:
    """The bare aiohttp app on a free port."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return _start(f"bare-{port}", [sys.executable, "-m", "bench.bare", "--port", str(port)], port=port,
                  workdir=workdir, env=env)

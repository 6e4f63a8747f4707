"""Real `lapor-gateway` processes on loopback ports, for end-to-end and fault-injection tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "lapor-gateway")


@dataclass
class Process:
    """A started process whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def output(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop it (SIGKILL with sig=signal.SIGKILL) and wait."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(
    name: str, args: Sequence[str], *, workdir: Path, env: Mapping[str, str] | None = None,
    ready_url: str | None = None, timeout: float = 30,
) -> Process:
    """Start `lapor-gateway ARGS` and wait until `ready_url` answers (any HTTP status)."""
    log = workdir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    handle = log.open("ab")
    popen = subprocess.Popen([CLI, *args], cwd=workdir, env=full_env, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    process = Process(name, popen, log, dict(env or {}))
    if ready_url is not None:
        deadline = time.monotonic() + timeout
        while True:
            if popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {popen.returncode}:\n{process.output()}")
            try:
                urllib.request.urlopen(ready_url, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers: a 401 or 503 is still a running server
            except OSError:
                if time.monotonic() > deadline:
                    process.stop(signal.SIGKILL)
                    raise RuntimeError(f"{name} did not start:\n{process.output()}") from None
                time.sleep(0.1)
    return process


def http_json(url: str, *, token: str | None = None) -> object:
    """GET a JSON document from a loopback server."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(predicate: object, *, timeout: float = 30, interval: float = 0.2, what: str = "condition") -> None:
    """Poll `predicate()` until it is truthy."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)

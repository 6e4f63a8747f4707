"""A whole deployment of real processes for fault-injection tests: registry-sim, Twilio stand-in, gateways."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.processes import Process, http_json, start
from tests.support.twilio_signing import form_body, sign_form

TWILIO_TOKEN = "faults-twilio-token-5d4c3b2a"
REGISTRY_TOKEN = "faults-registry-token-6e5f4a"
ACCOUNT = "ACfaults000000000000000000000000000"


@dataclass
class Deployment:
    """Registry sandbox and Twilio stand-in, plus the gateway processes a test starts."""

    workdir: Path
    database_url: str
    registry_args: tuple[str, ...] = ()
    registry_port: int = field(default_factory=free_port)
    twilio_port: int = field(default_factory=free_port)
    processes: list[Process] = field(default_factory=list)

    @property
    def registry_url(self) -> str:
        return f"http://127.0.0.1:{self.registry_port}"

    @property
    def twilio_url(self) -> str:
        return f"http://127.0.0.1:{self.twilio_port}"

    def start_registry(self) -> Process:
        process = start("registry", ["registry-sim", "--port", str(self.registry_port), "--token", REGISTRY_TOKEN,
                                     "--db", str(self.workdir / "registry.db"), *self.registry_args],
                        workdir=self.workdir, ready_url=f"{self.registry_url}/healthz")
        self.processes.append(process)
        return process

    def start_backends(self) -> None:
        self.start_registry()
        self.processes.append(start("twilio", ["twilio-sim", "--port", str(self.twilio_port), "--account-sid",
                                               ACCOUNT, "--auth-token", TWILIO_TOKEN],
                                    workdir=self.workdir, ready_url=f"{self.twilio_url}/sandbox/messages"))

    def gateway_env(self, port: int, **extra: str) -> dict[str, str]:
        return {
            "LAPOR_GATEWAY_SERVER__PORT": str(port),
            "LAPOR_GATEWAY_DATABASE__URL": self.database_url,
            "LAPOR_GATEWAY_DATABASE__SPOOL_DIR": str(self.workdir / f"spool-{port}"),
            "LAPOR_GATEWAY_REGISTRY__URL": self.registry_url,
            "LAPOR_GATEWAY_REGISTRY__TOKEN": REGISTRY_TOKEN,
            "LAPOR_GATEWAY_CHANNELS__TWILIO__ENABLED": "true",
            "LAPOR_GATEWAY_CHANNELS__TWILIO__ACCOUNT_SID": ACCOUNT,
            "LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN": TWILIO_TOKEN,
            "LAPOR_GATEWAY_CHANNELS__TWILIO__API_BASE_URL": self.twilio_url,
            "LAPOR_GATEWAY_DISPATCH__POLL_SECONDS": "0.2",
            "LAPOR_GATEWAY_DISPATCH__LEASE_SECONDS": "3",
            "LAPOR_GATEWAY_DISPATCH__BACKOFF_INITIAL_SECONDS": "0.2",
            "LAPOR_GATEWAY_DISPATCH__BACKOFF_MAX_SECONDS": "2",
            "LAPOR_GATEWAY_DISPATCH__MAX_ATTEMPTS": "1000",
            "LAPOR_GATEWAY_INGEST__SENDER_RATE_PER_MINUTE": "100000",
            **extra,
        }

    def start_gateway(self, name: str, port: int, *args: str, **extra: str) -> Process:
        process = start(name, ["serve", *args], workdir=self.workdir, env=self.gateway_env(port, **extra),
                        ready_url=f"http://127.0.0.1:{port}/healthz")
        self.processes.append(process)
        return process

    def complaints(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page: int | None = 1
        while page:
            data = self._get_through_faults(f"{self.registry_url}/complaints?page={page}")
            assert isinstance(data, dict)
            items += data["items"]
            page = data["next_page"]
        return items

    @staticmethod
    def _get_through_faults(url: str) -> object:
        """GET from the registry, retrying the faults it was told to inject (503, 429)."""
        for _ in range(100):
            try:
                return http_json(url, token=REGISTRY_TOKEN)
            except urllib.error.HTTPError as exc:
                if exc.code not in (429, 503):
                    raise
                time.sleep(0.05)
        raise AssertionError(f"registry kept failing for {url}")

    def sent(self) -> list[dict[str, Any]]:
        data = http_json(f"{self.twilio_url}/sandbox/messages")
        assert isinstance(data, list)
        return data

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def sms_body(sid: str, sender: str, text: str) -> bytes:
    return form_body({"MessageSid": sid, "AccountSid": ACCOUNT, "From": sender, "To": "1708", "Body": text})


def post_sms(port: int, sid: str, sender: str, text: str, *, timeout: float = 10) -> int:
    """POST one signed SMS webhook; the HTTP status, or 0 when the connection failed."""
    url = f"http://127.0.0.1:{port}/c/twilio/receive"
    body = sms_body(sid, sender, text)
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign_form(TWILIO_TOKEN, url, body),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def message(index: int) -> tuple[str, str, str]:
    """The SID, sender and text of the index-th test message; the text names the SID."""
    sid = f"SMfault{index:06d}"
    sender = f"+62812{index % 9000 + 1000:04d}{index // 9000:03d}"
    return sid, sender, f"Laporan uji {sid}: jalan rusak di RT 0{index % 9}"


def send_many(ports: Iterable[int], indexes: Iterable[int], *, workers: int = 16) -> dict[str, int]:
    """Send messages from a thread pool, round-robin over gateway ports; SID -> HTTP status."""
    port_list = list(ports)

    def one(index: int) -> tuple[str, int]:
        sid, sender, text = message(index)
        return sid, post_sms(port_list[index % len(port_list)], sid, sender, text)

    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, indexes))


def filed_sids(complaints: Iterable[dict[str, Any]]) -> list[str]:
    """The SIDs named in the registry's complaints (with repetitions, so duplicates show)."""
    sids = []
    for complaint in complaints:
        text = complaint["body"]
        start_at = text.find("SMfault")
        assert start_at >= 0, text
        sids.append(text[start_at : start_at + 13])
    return sids

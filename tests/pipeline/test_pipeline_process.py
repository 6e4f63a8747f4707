"""The pipeline's child process: it normalizes what the ingest process stores, comes back when it dies,
and never outlives its parent, not even a parent killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

from config.settings import Settings
from gateway.pipeline_process import PRESSURE, WAKE, WAKE_INTERVAL_SECONDS, PipelineProcess
from tests.support.ports import free_port
from tests.support.processes import Process, http_json, start, wait_for
from tests.support.twilio_signing import form_body, sign_form

TOKEN = "pipeline-process-token-1234"
RECEIVE = "/c/twilio/receive"


def children(pid: int) -> list[int]:
    """Child process ids of `pid` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def post_sms(port: int, message_sid: str) -> int:
    """A signed Twilio SMS webhook; the HTTP status."""
    import urllib.request

    url = f"http://127.0.0.1:{port}{RECEIVE}"
    body = form_body({"MessageSid": message_sid, "AccountSid": "ACtest", "From": "+6281234567890",
                      "To": "+621708", "Body": "Lampu jalan di Jl. Merdeka mati sejak seminggu", "NumMedia": "0"})
    request = urllib.request.Request(url, data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign_form(TOKEN, url, body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def state_of(database: Path, message_sid: str) -> str | None:
    """The raw message's state, read with a plain SQLite connection."""
    with sqlite3.connect(database) as connection:
        row = connection.execute("SELECT state FROM raw_message WHERE external_id = ?", (message_sid,)).fetchone()
    return None if row is None else str(row[0])


def start_ingest(tmp_path: Path) -> tuple[Process, int, Path]:
    """`lapor-gateway serve --role ingest` on SQLite with the pipeline in its child process (the default)."""
    port = free_port()
    database = tmp_path / "gateway.db"
    env = {
        "LAPOR_GATEWAY_SERVER__PORT": str(port),
        "LAPOR_GATEWAY_DATABASE__URL": f"sqlite+aiosqlite:///{database}",
        "LAPOR_GATEWAY_DATABASE__SPOOL_DIR": str(tmp_path / "spool"),
        "LAPOR_GATEWAY_CHANNELS__TWILIO__ENABLED": "true",
        "LAPOR_GATEWAY_CHANNELS__TWILIO__AUTH_TOKEN": TOKEN,
        "LAPOR_GATEWAY_CHANNELS__TWILIO__ACCOUNT_SID": "ACtest",
    }
    process = start("ingest", ["serve", "--role", "ingest"], workdir=tmp_path, env=env,
                    ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60)
    return process, port, database


def pipeline_child(process: Process) -> int:
    """The pid of the gateway's pipeline process, once it runs."""
    found: list[int] = []

    def started() -> bool:
        found[:] = children(process.popen.pid)
        return len(found) == 1

    wait_for(started, timeout=30, what="the pipeline process")
    return found[0]


def test_child_normalizes_restarts_and_stops_with_the_gateway(tmp_path: Path) -> None:
    gateway, port, database = start_ingest(tmp_path)
    try:
        child = pipeline_child(gateway)
        wait_for(lambda: os.getpriority(os.PRIO_PROCESS, child) == 10, timeout=30, what="ingest.pipeline_nice")
        assert post_sms(port, "SMfirst") == 200
        wait_for(lambda: state_of(database, "SMfirst") == "normalized", timeout=30, what="normalization")

        os.kill(child, signal.SIGKILL)
        wait_for(lambda: children(gateway.popen.pid) not in ([], [child]), timeout=30, what="a new child")
        assert post_sms(port, "SMsecond") == 200
        wait_for(lambda: state_of(database, "SMsecond") == "normalized", timeout=30, what="normalization")
        health = http_json(f"http://127.0.0.1:{port}/healthz")
        assert isinstance(health, dict) and health["pipeline_alive"] is True
        replacement = pipeline_child(gateway)
    finally:
        gateway.stop()
    assert gateway.popen.returncode == 0
    wait_for(lambda: not running(replacement), timeout=15, what="the child to stop with the gateway")
    assert "pipeline.process_exited" in gateway.output()  # the operator sees why a new one started


def test_child_does_not_outlive_a_killed_gateway(tmp_path: Path) -> None:
    gateway, port, database = start_ingest(tmp_path)
    try:
        child = pipeline_child(gateway)
        assert post_sms(port, "SMbefore") == 200
    finally:
        gateway.stop(signal.SIGKILL)
    # Its input closed with the parent: it finishes or releases its batch and exits.
    wait_for(lambda: not running(child), timeout=20, what="the orphaned child to exit")
    restarted, port, _ = start_ingest(tmp_path)
    try:
        # The acknowledged message is normalized, by the dead gateway's child or by the next one's.
        wait_for(lambda: state_of(database, "SMbefore") == "normalized", timeout=30, what="normalization")
    finally:
        restarted.stop()


def test_child_keeps_up_with_steady_traffic(tmp_path: Path) -> None:
    """Ten messages a second are not a burst: the child normalizes them as they come, not a few per second."""
    gateway, port, database = start_ingest(tmp_path)
    try:
        pipeline_child(gateway)
        post_sms(port, "SMwarm")
        wait_for(lambda: state_of(database, "SMwarm") == "normalized", timeout=30, what="the child to be ready")
        sids = [f"SMsteady{index:03d}" for index in range(60)]
        for sid in sids:
            assert post_sms(port, sid) == 200
            time.sleep(0.1)
        normalized = sum(state_of(database, sid) == "normalized" for sid in sids)
    finally:
        gateway.stop()
    assert normalized >= 45, f"{normalized} of 60 normalized while they arrived"


class _Pipe:
    """The child's stdin as the parent sees it: what was written, in order."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False


async def test_wake_ups_within_the_interval_are_sent_as_one() -> None:
    parent = PipelineProcess(Settings())
    pipe = _Pipe()
    parent._process = SimpleNamespace(stdin=pipe, returncode=None)  # type: ignore[assignment]
    for commit in range(100):  # a burst: a commit every few hundred microseconds
        parent.wake(pressure=commit == 50)
    assert pipe.written == [WAKE]  # the first at once
    await asyncio.sleep(WAKE_INTERVAL_SECONDS * 3)
    assert pipe.written == [WAKE, PRESSURE]  # the rest as one, and the pressure among them is not lost
    await asyncio.sleep(WAKE_INTERVAL_SECONDS * 2)
    parent.wake()
    assert pipe.written == [WAKE, PRESSURE, WAKE]  # quiet for an interval: at once again

"""Benchmark of the email channel: SMTP ingest of 5 KB messages (the gateway, committing to its SQLite
archive, against a bare aiosmtpd handler that only counts, in the same run) and replay throughput."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.base import ChannelContext
from channels.email import EmailChannel, EmailConfig
from gateway.errors import QuarantinedInput, UnsupportedEvent
from gateway.messages import RawMessage
from gateway.storage.archive import Archive
from gateway.storage.db import Database
from gateway.storage.migrate import upgrade
from normalizers.email import normalize
from normalizers.email_parse import external_id

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "email"
CORPUS = ROOT.parent / "shared" / "corpus"
DOMAIN = "lapor.example.go.id"
CLIENTS = 16
PER_CLIENT = 60
MESSAGE_BYTES = 5 * 1024
REPLAY_ROUNDS = 3
INGEST_ROUNDS = 3


def _message(client: int, number: int) -> bytes:
    head = (
        f"From: Warga {client} <warga{client}@example.id>\r\nTo: pengaduan@{DOMAIN}\r\n"
        f"Subject: Laporan {client}-{number}\r\nMessage-ID: <bench-{client}-{number}-{time.time_ns()}@example.id>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    ).encode()
    line = b"Jalan di depan rumah kami rusak dan berlubang, mohon segera diperbaiki.\r\n"
    body = line * ((MESSAGE_BYTES - len(head)) // len(line) + 1)
    return (head + body)[:MESSAGE_BYTES - 2] + b"\r\n"


async def _blast(port: int) -> float:
    """Messages per second from CLIENTS connections sending PER_CLIENT messages each."""

    async def client(index: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
        await smtp.connect()
        for number in range(PER_CLIENT):
            await smtp.sendmail(f"warga{index}@example.id", [f"pengaduan@{DOMAIN}"], _message(index, number))
        await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(client(index) for index in range(CLIENTS)))
    return CLIENTS * PER_CLIENT / (time.perf_counter() - started)


class _Counter:
    """The bare aiosmtpd handler: counts and answers 250."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # aiosmtpd hook name
        self.count += 1
        return "250 OK"


async def _bare_rate() -> float:
    loop = asyncio.get_running_loop()
    counter = _Counter()
    server = await loop.create_server(
        lambda: SMTP(counter, hostname="bench", enable_SMTPUTF8=True, loop=loop), host="127.0.0.1", port=0
    )
    try:
        rate = await _blast(int(server.sockets[0].getsockname()[1]))
    finally:
        server.close()
        await server.wait_closed()
    assert counter.count == CLIENTS * PER_CLIENT
    return rate


class _NoCursors:
    async def get(self, channel: str, key: str) -> str | None:
        return None

    async def set(self, channel: str, key: str, value: str) -> None:
        return None


class _NoDeliveries:
    async def record_delivery(self, channel: str, provider_id: str, status: str, detail: str = "") -> bool:
        return False


async def _gateway_rate(directory: Path) -> float:
    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    upgrade(url)
    database = Database(url)
    archive = Archive(database)
    context = ChannelContext(sink=archive, public_url="", cursors=_NoCursors(), deliveries=_NoDeliveries())
    channel = EmailChannel(config=EmailConfig(enabled=True, port=0, domains=(DOMAIN,)), context=context)
    server = await channel.start()
    try:
        rate = await _blast(int(server.sockets[0].getsockname()[1]))
    finally:
        server.close()
        await server.wait_closed()
        await archive.close()
        await database.dispose()
    return rate


def _replay_inputs() -> list[RawMessage]:
    paths = sorted(FIXTURES.glob("*.eml"))
    if CORPUS.is_dir():
        paths += sorted(p for p in CORPUS.glob("email-*/*") if p.name != "MANIFEST.md")
    received = datetime.now(UTC)
    return [
        RawMessage("email", "message", external_id(data), received, data)
        for data in (path.read_bytes() for path in paths)
    ]


def _replay_rate() -> tuple[float, float]:
    """(messages per second, MB per second) of the email normalizer over fixtures and corpus."""
    raws = _replay_inputs()
    normalize(raws[0])  # warm the language model
    started = time.perf_counter()
    for _ in range(REPLAY_ROUNDS):
        for raw in raws:
            try:
                normalize(raw)
            except (QuarantinedInput, UnsupportedEvent):
                continue  # quarantined inputs are part of the workload
    seconds = time.perf_counter() - started
    size = sum(len(raw.payload) for raw in raws) * REPLAY_ROUNDS
    return len(raws) * REPLAY_ROUNDS / seconds, size / seconds / 1e6


async def _ingest() -> dict[str, float]:
    """Bare and gateway runs interleaved, so a noisy neighbour hits both; medians of INGEST_ROUNDS."""
    await _bare_rate()  # warm-up: imports, first connections
    bare: list[float] = []
    gateway: list[float] = []
    for round_number in range(INGEST_ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            bare.append(await _bare_rate())
            gateway.append(await _gateway_rate(Path(tmp) / str(round_number)))
    ratios = [g / b for g, b in zip(gateway, bare, strict=True)]
    return {
        "email_smtp_bare_msgs_per_s": round(statistics.median(bare), 1),
        "email_smtp_gateway_msgs_per_s": round(statistics.median(gateway), 1),
        "email_smtp_ratio": round(statistics.median(ratios), 3),
    }


def run() -> dict[str, float]:
    """SMTP ingest (gateway with its archive vs a bare counter, and the ratio; target >= 0.6), replay throughput."""
    results = asyncio.run(_ingest())
    messages, megabytes = _replay_rate()
    results["email_replay_msgs_per_s"] = round(messages, 1)
    results["email_replay_mb_per_s"] = round(megabytes, 2)
    return results


if __name__ == "__main__":
    print(run())

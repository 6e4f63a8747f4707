"""The load generator: a separate process posting pre-signed Twilio webhooks, closed- or open-loop.

Run as `python -m bench.load '<LoadSpec as JSON>'`; it prints one LoadResult as JSON. `drive()` and
`start()`/`finish()` run it from the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import aiohttp

from bench.bodies import TEXTS, sender_number, sid, signed_request, sms_fields

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """What to send, where, and how.

    closed: `concurrency` workers each send the next request as soon as the previous one is answered,
    until `duration` seconds pass or the `requests` prepared bodies run out (maximum throughput).
    open: requests are scheduled at fixed times, `rate` per second, and latency counts from the scheduled
    time, so a slow server cannot slow the arrivals down (no coordinated omission).
    """

    url: str
    token: str
    mode: Literal["closed", "open"]
    duration: float
    requests: int
    concurrency: int = 64
    rate: float = 0.0
    sid_prefix: str = "b"
    senders: int = 0  # 0: a new sender for every message; n: rotate over n senders
    sender_offset: int = 0
    warmup: int = 0
    acked_file: str | None = None


@dataclass(slots=True)
class LoadResult:
    """What happened: counts, elapsed time, acknowledgement latency in milliseconds."""

    sent: int = 0
    ok: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    elapsed: float = 0.0
    throughput: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    late_starts: int = 0  # open loop: requests the generator itself started more than 10 ms late
    client_cpu_seconds: float = 0.0
    exhausted: bool = False  # closed loop: the prepared bodies ran out before the duration


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of samples by nearest rank; 0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _prepare(spec: LoadSpec, count: int, prefix: str) -> list[tuple[str, bytes, dict[str, str]]]:
    prepared = []
    for index in range(count):
        message_sid = sid(prefix, index)
        who = spec.sender_offset + (index % spec.senders if spec.senders else index)
        fields = sms_fields(message_sid, sender_number(who), f"{TEXTS[index % len(TEXTS)]} ({index})")
        body, request_headers = signed_request(spec.token, spec.url, fields)
        prepared.append((message_sid, body, request_headers))
    return prepared


class _Run:
    def __init__(self, spec: LoadSpec, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        self.spec = spec
        self.session = session
        self.latencies: list[float] = []
        self.acked: list[str] = []
        self.result = LoadResult()
        self.stop = stop

    async def post(self, message_sid: str, body: bytes, request_headers: dict[str, str], since: float) -> None:
        self.result.sent += 1
        try:
            async with self.session.post(self.spec.url, data=body, headers=request_headers) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            self.result.errors += 1
            return
        self.latencies.append((time.perf_counter() - since) * 1000)
        key = str(status)
        self.result.statuses[key] = self.result.statuses.get(key, 0) + 1
        if status == 200:
            self.result.ok += 1
            self.acked.append(message_sid)

    async def closed_loop(self, prepared: list[tuple[str, bytes, dict[str, str]]]) -> None:
        deadline = time.perf_counter() + self.spec.duration
        queue = iter(prepared)

        async def worker() -> None:
            for message_sid, body, request_headers in queue:
                if time.perf_counter() >= deadline or self.stop.is_set():
                    return
                await self.post(message_sid, body, request_headers, time.perf_counter())
            self.result.exhausted = True

        await asyncio.gather(*(worker() for _ in range(self.spec.concurrency)))

    async def open_loop(self, prepared: list[tuple[str, bytes, dict[str, str]]]) -> None:
        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter() + 0.05
        for index, (message_sid, body, request_headers) in enumerate(prepared):
            at = start + index / self.spec.rate
            delay = at - time.perf_counter()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)
            if self.stop.is_set():
                break
            if time.perf_counter() - at > 0.010:
                self.result.late_starts += 1
            tasks.append(asyncio.create_task(self.post(message_sid, body, request_headers, at)))
        await asyncio.gather(*tasks)


async def run(spec: LoadSpec) -> LoadResult:
    """Prepare and sign every body, warm up, then send and measure."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # the flood is over: wrap up
    count = spec.requests if spec.mode == "closed" else int(spec.rate * spec.duration)
    prepared = _prepare(spec, count, spec.sid_prefix)
    warm = _prepare(spec, spec.warmup, spec.sid_prefix + "w")
    limit = spec.concurrency if spec.mode == "closed" else max(spec.concurrency, 256)
    connector = aiohttp.TCPConnector(limit=limit)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if warm:
            warmer = _Run(spec, session, stop)
            await asyncio.gather(*(warmer.post(s, b, h, time.perf_counter()) for s, b, h in warm))
        job = _Run(spec, session, stop)
        cpu = time.process_time()
        started = time.perf_counter()
        if spec.mode == "closed":
            await job.closed_loop(prepared)
        else:
            await job.open_loop(prepared)
        job.result.elapsed = time.perf_counter() - started
        job.result.client_cpu_seconds = time.process_time() - cpu
    result = job.result
    result.throughput = result.ok / result.elapsed if result.elapsed else 0.0
    result.p50_ms = percentile(job.latencies, 0.50)
    result.p90_ms = percentile(job.latencies, 0.90)
    result.p99_ms = percentile(job.latencies, 0.99)
    result.max_ms = max(job.latencies, default=0.0)
    if spec.acked_file:
        Path(spec.acked_file).write_text("".join(f"{s}\n" for s in job.acked))
    return result


def start(spec: LoadSpec) -> subprocess.Popen[bytes]:
    """Start a generator process; collect it with finish()."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench.load", json.dumps(asdict(spec))], cwd=ROOT, stdout=subprocess.PIPE
    )


def finish(process: subprocess.Popen[bytes], *, stop: bool = False) -> LoadResult:
    """Wait for a generator (after SIGTERM when `stop`) and read its result."""
    if stop:
        process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed with exit code {process.returncode}")
    return LoadResult(**json.loads(out))


def drive(spec: LoadSpec) -> LoadResult:
    """Run one generator process to the end."""
    return finish(start(spec))


def main() -> None:
    """Entry point of the generator process."""
    spec = LoadSpec(**json.loads(sys.argv[1]))
    result = asyncio.run(run(spec))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()

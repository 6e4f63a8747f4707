"""Ingest: the gateway against the bare app, same load generator, same run.

Closed loop for maximum throughput (with every acknowledged message checked in the database), open loop at a
fixed offered rate for acknowledgement latency, VmHWM for peak memory.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

from bench.load import LoadResult, LoadSpec, drive
from bench.report import Figure, Target
from bench.servers import TOKEN, Server, start_bare, start_gateway
from bench.stored import missing, read_acknowledged

RATIO_TARGET = Target(">=", 0.5)
P99_TARGET = Target("<=", 50.0)
MISSING_TARGET = Target("==", 0)
CATCH_UP_MIN_BACKLOG = 500  # below this the catch-up is too short to time


@dataclass(frozen=True, slots=True)
class Budget:
    """How long and how hard each measurement runs."""

    closed_seconds: float = 6.0
    closed_requests: int = 70_000
    concurrency: int = 64
    open_seconds: float = 10.0
    rate: float = 500.0
    warmup: int = 200
    drain_limit_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class Measured:
    """One server's closed- and open-loop results and the CPU it spent per acknowledged request."""

    closed: LoadResult
    open: LoadResult
    cpu_us_per_request: float


def _closed(server: Server, budget: Budget, prefix: str, acked: Path | None = None) -> tuple[LoadResult, float]:
    cpu = server.cpu_seconds()
    result = drive(LoadSpec(url=server.receive_url, token=TOKEN, mode="closed", duration=budget.closed_seconds,
                            requests=budget.closed_requests, concurrency=budget.concurrency, sid_prefix=prefix,
                            warmup=budget.warmup, acked_file=str(acked) if acked else None))
    spent = server.cpu_seconds() - cpu
    return result, spent / max(result.ok + budget.warmup, 1) * 1e6


def _open(server: Server, budget: Budget, prefix: str) -> LoadResult:
    return drive(LoadSpec(url=server.receive_url, token=TOKEN, mode="open", duration=budget.open_seconds,
                          requests=0, rate=budget.rate, sid_prefix=prefix, warmup=budget.warmup // 4))


def measure_bare(workdir: Path, budget: Budget) -> Measured:
    """The baseline: the bare app's throughput, latency and CPU per request."""
    bare = start_bare(workdir)
    try:
        opened = _open(bare, budget, "bo")
        closed, cpu = _closed(bare, budget, "bc")
    finally:
        bare.stop()
    return Measured(closed, opened, cpu)


def backlog(server: Server) -> int | None:
    """raw_pending from the gateway's /healthz, or None if it does not say."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503 (degraded) still carries the backlog
        try:
            body = json.loads(exc.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
    pending = body.get("backlog", {}).get("raw_pending")
    return int(pending) if pending is not None else None


def catch_up(server: Server, limit: float) -> tuple[int, float, float]:
    """(backlog at the start, seconds watched, messages normalized per second) while the pipeline catches up."""
    first = backlog(server) or 0
    started = time.monotonic()
    left = first
    while left and time.monotonic() - started < limit:
        time.sleep(0.25)
        left = backlog(server) or 0
    elapsed = time.monotonic() - started
    return first, elapsed, (first - left) / elapsed if elapsed else 0.0


def wait_drained(server: Server, limit: float) -> float | None:
    """Seconds until the pipeline normalized everything received, or None past `limit`."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if backlog(server) == 0:
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def warm(server: Server, limit: float) -> None:
    """A second of light traffic, then wait until the pipeline processed it: models and caches are loaded."""
    drive(LoadSpec(url=server.receive_url, token=TOKEN, mode="open", duration=1, requests=0, rate=50,
                   sid_prefix=f"w{server.port}"))
    wait_drained(server, limit)


def measure_gateway(
    workdir: Path, database_url: str, backend: str, budget: Budget, bare: Measured, *, role: str = "ingest"
) -> list[Figure]:
    """Latency at the fixed rate, then maximum throughput, the durability check, the drain, and peak RSS."""
    gateway = start_gateway(workdir, database_url, role=role)
    acked = workdir / f"acked-{backend}-{role}.txt"
    try:
        warm(gateway, budget.drain_limit_seconds)
        opened = _open(gateway, budget, f"{backend[0]}o")
        drained_open = wait_drained(gateway, budget.drain_limit_seconds)
        closed, cpu = _closed(gateway, budget, f"{backend[0]}c", acked)
        backlog_after, watched, catch_up_rate = catch_up(gateway, budget.drain_limit_seconds)
        peak = gateway.peak_rss_mib()
    finally:
        gateway.stop()
    lost = missing(database_url, read_acknowledged(acked))
    ratio = closed.throughput / bare.closed.throughput if bare.closed.throughput else 0.0
    tag = f"{backend}, role {role}"
    figures = [
        Figure(f"{backend}_{role}_throughput", f"gateway ingest throughput ({tag})", closed.throughput, "msg/s",
               note=f"closed loop, {budget.concurrency} connections, {closed.elapsed:.1f} s, "
                    f"{closed.ok:,} acknowledged, {closed.errors} errors, statuses {closed.statuses}"),
        Figure(f"{backend}_{role}_ratio", f"ingest ratio gateway / bare ({tag})", ratio, "", RATIO_TARGET),
        Figure(f"{backend}_{role}_missing", f"acknowledged but not in the database ({tag})", lost, "msgs",
               MISSING_TARGET, note=f"{closed.ok:,} acknowledged MessageSids looked up in raw_message"),
        Figure(f"{backend}_{role}_cpu_per_msg", f"gateway CPU per acknowledged message ({tag})", cpu, "µs",
               note="the gateway and its pipeline process, normalizing in the background"),
        Figure(f"{backend}_{role}_p50", f"ack latency p50 at {budget.rate:g} req/s ({tag})", opened.p50_ms, "ms"),
        Figure(f"{backend}_{role}_p99", f"ack latency p99 at {budget.rate:g} req/s ({tag})", opened.p99_ms, "ms",
               P99_TARGET, note=f"open loop {budget.open_seconds:g} s, {opened.ok:,} ok, {opened.errors} errors, "
                                f"max {opened.max_ms:.0f} ms, generator late starts {opened.late_starts}"),
        Figure(f"{backend}_{role}_peak_rss", f"gateway peak RSS, VmHWM ({tag})", peak, "MiB",
               note="ingest process + pipeline process"),
        Figure(f"{backend}_{role}_backlog", f"raw messages not yet normalized after the burst ({tag})",
               backlog_after, "msgs"),
    ]
    after_latency = (f"after the latency run it needed {drained_open:.1f} s to catch up" if drained_open is not None
                     else f"it had not caught up {budget.drain_limit_seconds:g} s after the latency run")
    if backlog_after >= CATCH_UP_MIN_BACKLOG:
        figures.append(Figure(f"{backend}_{role}_catch_up", f"pipeline catch-up rate after the burst ({tag})",
                              catch_up_rate, "msg/s", note=f"watched {watched:.1f} s with no traffic; {after_latency}"))
    else:
        figures[-1] = replace(figures[-1], note=after_latency)
    return figures


def bare_figures(bare: Measured, budget: Budget, backend: str) -> list[Figure]:
    """The baseline's own numbers, printed beside the gateway's."""
    return [
        Figure(f"{backend}_bare_throughput", "bare app throughput (baseline)", bare.closed.throughput, "msg/s",
               note=f"closed loop, {budget.concurrency} connections, {bare.closed.ok:,} ok, "
                    f"load generator CPU {bare.closed.client_cpu_seconds:.1f} s in {bare.closed.elapsed:.1f} s"),
        Figure(f"{backend}_bare_cpu_per_msg", "bare app CPU per request", bare.cpu_us_per_request, "µs"),
        Figure(f"{backend}_bare_p50", f"bare ack latency p50 at {budget.rate:g} req/s", bare.open.p50_ms, "ms"),
        Figure(f"{backend}_bare_p99", f"bare ack latency p99 at {budget.rate:g} req/s", bare.open.p99_ms, "ms"),
    ]

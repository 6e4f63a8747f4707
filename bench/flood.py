"""Flood: one sender posting as fast as it can while a few legitimate senders post at a low rate.

Reports the gateway's memory before, at the peak of and after the flood, how many flood messages the
per-sender rate limit marked, and the legitimate senders' latency with and without the flood.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.ingest import warm
from bench.load import LoadSpec, drive, finish, start
from bench.report import Figure
from bench.servers import TOKEN, start_gateway
from bench.stored import count_flagged, missing, read_acknowledged

FLOOD_SENDER = 99_000_000
LEGIT_SENDERS = 50
LEGIT_RATE = 20.0  # messages per second over all legitimate senders: 24 per sender per minute, under the limit
SENDER_LIMIT = 30  # the default ingest.sender_rate_per_minute


@dataclass(frozen=True, slots=True)
class FloodBudget:
    """Size and time limits of the flood."""

    messages: int = 50_000
    limit_seconds: float = 45.0
    baseline_seconds: float = 8.0
    concurrency: int = 64


def run(workdir: Path, database_url: str, budget: FloodBudget) -> list[Figure]:
    """Baseline legitimate traffic, then the same traffic during the flood."""
    gateway = start_gateway(workdir, database_url, role="ingest", sender_rate=SENDER_LIMIT)
    acked = workdir / "acked-flood.txt"
    try:
        warm(gateway, 30)
        baseline = drive(LoadSpec(url=gateway.receive_url, token=TOKEN, mode="open", rate=LEGIT_RATE,
                                  duration=budget.baseline_seconds, requests=0, sid_prefix="lb",
                                  senders=LEGIT_SENDERS, sender_offset=1_000))
        rss_before = gateway.rss_mib()
        peak_resettable = gateway.reset_peak()
        legit = start(LoadSpec(url=gateway.receive_url, token=TOKEN, mode="open", rate=LEGIT_RATE,
                               duration=budget.limit_seconds + 30, requests=0, sid_prefix="ll",
                               senders=LEGIT_SENDERS, sender_offset=2_000))
        time.sleep(1.0)  # the legitimate generator has signed its bodies and is sending
        flood = drive(LoadSpec(url=gateway.receive_url, token=TOKEN, mode="closed", duration=budget.limit_seconds,
                               requests=budget.messages, concurrency=budget.concurrency, sid_prefix="fl",
                               senders=1, sender_offset=FLOOD_SENDER, acked_file=str(acked)))
        during = finish(legit, stop=True)
        peak = gateway.peak_rss_mib()
        time.sleep(2.0)
        rss_after = gateway.rss_mib()
    finally:
        gateway.stop()
    lost = missing(database_url, read_acknowledged(acked))
    flagged = count_flagged(database_url, "flood")
    peak_note = "VmHWM reset before the flood" if peak_resettable else "VmHWM since start (reset not allowed)"
    return [
        Figure("flood_sent", "flood: messages acknowledged from one sender", flood.ok, "msgs",
               note=f"{flood.ok:,} of {budget.messages:,} in {flood.elapsed:.1f} s "
                    f"(limit {budget.limit_seconds:g} s) = {flood.throughput:,.0f}/s, {flood.errors} errors, "
                    f"statuses {flood.statuses}"),
        Figure("flood_marked", "flood: messages marked `flood` by the per-sender limit", flagged, "msgs",
               note=f"limit {SENDER_LIMIT}/min per sender; the first {SENDER_LIMIT} in a minute are not marked"),
        Figure("flood_missing", "flood: acknowledged but not in the database", lost, "msgs"),
        Figure("flood_rss_before", "gateway RSS before the flood", rss_before, "MiB",
               note="here and below: the ingest process and its pipeline process together"),
        Figure("flood_rss_peak", "gateway peak RSS during the flood", peak, "MiB", note=peak_note),
        Figure("flood_rss_after", "gateway RSS after the flood", rss_after, "MiB"),
        Figure("flood_legit_p50_without", "legitimate senders p50 without flood", baseline.p50_ms, "ms",
               note=f"{LEGIT_SENDERS} senders, {LEGIT_RATE:g} msg/s in all, open loop, {baseline.ok} ok"),
        Figure("flood_legit_p99_without", "legitimate senders p99 without flood", baseline.p99_ms, "ms"),
        Figure("flood_legit_p50_during", "legitimate senders p50 during flood", during.p50_ms, "ms"),
        Figure("flood_legit_p99_during", "legitimate senders p99 during flood", during.p99_ms, "ms",
               note=f"{during.ok} ok, {during.errors} errors, max {during.max_ms:.0f} ms"),
    ]

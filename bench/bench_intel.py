"""Benchmark of the text pipeline: per-message latency of `enrich` on one core, and model load time."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.intel.context import IntelContext
from gateway.intel.enrich import enrich
from gateway.intel.router import load_examples, load_model, train
from gateway.intel.routing_rules import RoutingRules
from gateway.intel.settings import IntelSettings
from gateway.records import Body, Complaint, RawRef, ReplyRoute, Reporter

ROOT = Path(__file__).resolve().parents[1]
DEVSET = ROOT / "tests" / "fixtures" / "intel" / "devset.jsonl"
RULES = ROOT / "config" / "routing.yaml"
ROUNDS = 5


def _complaints() -> list[Complaint]:
    out = []
    for n, line in enumerate(DEVSET.read_text(encoding="utf-8").splitlines()):
        row = json.loads(line)
        out.append(Complaint(
            id=f"bench-{n}",
            channel="twilio",
            received_at=datetime.now(UTC),
            raw=RawRef(ids=(f"raw-{n}",), sha256=("0" * 64,)),
            reporter=Reporter(identity="+6281200000000"),
            title=row["text"][:60],
            body=Body(text=row["text"], language="id"),
            dedup_key=f"bench-{n}",
            reply_to=ReplyRoute(channel="twilio", address="+6281200000000"),
        ))
    return out


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run() -> dict[str, float]:
    """p50/p95 per-message milliseconds of the whole text pipeline (wall and CPU), context and model load times."""
    pinned = hasattr(os, "sched_setaffinity")
    previous = os.sched_getaffinity(0) if pinned else set()
    if pinned:
        os.sched_setaffinity(0, {min(previous)})  # one core, as the target is stated
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model_path = Path(tmp) / "router.model"
            started = time.perf_counter()
            train(load_examples(DEVSET), rules=RoutingRules.load(RULES)).save(model_path)
            train_seconds = time.perf_counter() - started

            started = time.perf_counter()
            load_model(model_path)
            model_load_ms = (time.perf_counter() - started) * 1000

            settings = IntelSettings(routing_rules=str(RULES), model_path=str(model_path))
            started = time.perf_counter()
            context = IntelContext.from_settings(settings)
            context_load_ms = (time.perf_counter() - started) * 1000

            complaints = _complaints()
            for complaint in complaints[:20]:
                enrich(complaint, context=context)  # warm regex and numpy caches
            samples: list[float] = []
            cpu: list[float] = []
            for _ in range(ROUNDS):
                for complaint in complaints:
                    started = time.perf_counter()
                    started_cpu = time.thread_time()
                    enrich(complaint, context=context)
                    cpu.append((time.thread_time() - started_cpu) * 1000)
                    samples.append((time.perf_counter() - started) * 1000)
    finally:
        if pinned:
            os.sched_setaffinity(0, previous)
    return {
        "intel_enrich_p50_ms": round(statistics.median(samples), 4),
        "intel_enrich_p95_ms": round(_percentile(samples, 0.95), 4),
        "intel_enrich_max_ms": round(max(samples), 4),
        # CPU time of the thread: what the pipeline costs, without time lost to other processes on the core.
        "intel_enrich_cpu_p50_ms": round(statistics.median(cpu), 4),
        "intel_enrich_cpu_p95_ms": round(_percentile(cpu, 0.95), 4),
        "intel_model_load_ms": round(model_load_ms, 2),
        "intel_context_load_ms": round(context_load_ms, 2),
        "intel_train_seconds": round(train_seconds, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

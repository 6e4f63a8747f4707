"""`python -m bench [--quick|--smoke] [--only SECTIONS] [--json FILE]`: run the benchmarks and print the report."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from bench import flood, ingest, replay
from bench.plugins import run_plugin
from bench.postgres import PostgresUnavailable, temporary_database
from bench.report import Figure, section_lines, summary_lines

SECTIONS = ("ingest", "postgres", "replay", "flood", "email", "intel")
ROOT = Path(__file__).resolve().parents[1]


def _budgets(quick: bool, smoke: bool) -> tuple[ingest.Budget, flood.FloodBudget, int]:
    if smoke:  # tests/bench: proves the code runs, measures nothing worth reading
        return (ingest.Budget(closed_seconds=1, closed_requests=2_000, concurrency=16, open_seconds=1, rate=100,
                              warmup=20, drain_limit_seconds=20),
                flood.FloodBudget(messages=200, limit_seconds=3, baseline_seconds=1, concurrency=8), 300)
    if quick:
        return (ingest.Budget(closed_seconds=3, closed_requests=20_000, open_seconds=3, warmup=100,
                              drain_limit_seconds=30),
                flood.FloodBudget(messages=5_000, limit_seconds=10, baseline_seconds=3), 3_000)
    return ingest.Budget(), flood.FloodBudget(), 20_000


def _header(kind: str) -> list[str]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return [
        f"lapor-gateway benchmark ({kind} run)",
        f"   machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, "
        f"Python {platform.python_version()}, commit {commit.stdout.strip() or '?'}",
        "   The machine is shared and noisy: compare the ratios measured in this same run, not absolute numbers.",
        "   Gateway: `lapor-gateway serve --role ingest` (HTTP edge + archive, and the pipeline in its child process",
        "   at nice 10; no dispatcher competing). CPU and peak RSS are the two processes' together.",
        "   durable group commit (SQLite WAL, synchronous=FULL), Twilio channel with signatures enforced.",
        "   Baseline: a bare aiohttp app (on uvloop, as the gateway) answering POST /c/twilio/receive with the same",
        "   empty TwiML, no work.",
        "   Load: a separate aiohttp client process with pre-signed ~460-byte Twilio bodies (signing not timed).",
    ]


class Runner:
    """Runs the selected sections, prints each as it finishes, and keeps every figure."""

    def __init__(self, sections: Sequence[str]) -> None:
        self.sections = sections
        self.figures: list[Figure] = []

    def section(self, name: str, title: str, work: Callable[[], list[Figure]], notes: Sequence[str] = ()) -> None:
        """Run one section if selected; print its figures and how long it took."""
        if name not in self.sections:
            return
        started = time.monotonic()
        try:
            figures = work()
        except PostgresUnavailable as exc:
            print("\n".join(section_lines(title, [], [f"skipped: {exc}"])), flush=True)
            return
        self.figures += figures
        took = f"({time.monotonic() - started:.0f} s)"
        print("\n".join(section_lines(f"{title} {took}", figures, notes)), flush=True)

    def plugin(self, name: str, title: str) -> None:
        """Run bench/bench_<name>.py if selected and present."""
        if name not in self.sections:
            return
        result = run_plugin(name)
        self.figures += result.figures
        print("\n".join(section_lines(title, result.figures, [result.message] if result.message else [])),
              flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run, print the report; exit status 0 (targets are reported, not enforced)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute in all)")
    parser.add_argument("--smoke", action="store_true", help="seconds-long runs that only prove the code works")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    sections = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    budget, flood_budget, replay_count = _budgets(args.quick, args.smoke)
    print("\n".join(_header("smoke" if args.smoke else "quick" if args.quick else "full")), flush=True)
    runner = Runner(sections)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lapor-bench-") as tmp:
        workdir = Path(tmp)

        def ingest_on(backend: str, database_url: Callable[[], str]) -> list[Figure]:
            bare = ingest.measure_bare(workdir, budget)
            return ingest.bare_figures(bare, budget, backend) + ingest.measure_gateway(
                workdir, database_url(), backend, budget, bare)

        def on_postgres() -> list[Figure]:
            with temporary_database() as url:
                return ingest_on("postgres", lambda: url)

        runner.section("ingest", "Ingest on SQLite: gateway vs bare app",
                       lambda: ingest_on("sqlite", lambda: f"sqlite+aiosqlite:///{workdir / 'ingest.db'}"))
        runner.section("postgres", "Ingest on PostgreSQL (temporary database): gateway vs bare app", on_postgres)
        runner.section("replay", "Replay (in this process, pinned to one core)", lambda: replay.run(replay_count))
        runner.section("flood", "Flood on SQLite: one sender as fast as possible, legitimate senders beside it",
                       lambda: flood.run(workdir, f"sqlite+aiosqlite:///{workdir / 'flood.db'}", flood_budget))
    runner.plugin("email", "Email (bench/bench_email.py)")
    runner.plugin("intel", "Text pipeline (bench/bench_intel.py)")
    print("\n".join(summary_lines(runner.figures)))
    print(f"\n   total time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([asdict(figure) for figure in runner.figures], indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The benchmark code runs: a seconds-long `python -m bench --smoke` with real processes, and its parts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load import percentile
from bench.plugins import run_plugin
from bench.procfs import cpu_seconds, peak_rss_mib, rss_mib
from bench.report import Figure, Target, section_lines, summary_lines

REPO = Path(__file__).resolve().parents[2]


def test_smoke_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "ingest,replay,flood", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    figures = {row["key"]: row for row in json.loads(out.read_text())}
    for key in ("sqlite_bare_throughput", "sqlite_ingest_throughput", "sqlite_ingest_ratio", "sqlite_ingest_p99",
                "sqlite_ingest_peak_rss", "replay_normalize", "replay_pipeline", "flood_rss_peak",
                "flood_legit_p99_during"):
        assert figures[key]["value"] > 0, key
    assert figures["sqlite_ingest_missing"]["value"] == 0  # every acknowledged message is in the database
    assert figures["flood_missing"]["value"] == 0
    assert figures["flood_marked"]["value"] > 0  # one sender past 30 a minute is marked
    assert "== Targets" in run.stdout
    assert "ingest ratio gateway / bare (sqlite, role ingest)" in run.stdout


TARGETS = [
    ("at_least_met", Target(">=", 0.5), 0.5, "PASS"),
    ("at_least_missed", Target(">=", 0.5), 0.49, "MISS"),
    ("at_most_met", Target("<=", 50.0), 12.0, "PASS"),
    ("at_most_missed", Target("<=", 50.0), 50.1, "MISS"),
    ("exactly_zero_met", Target("==", 0), 0, "PASS"),
    ("exactly_zero_missed", Target("==", 0), 3, "MISS"),
]


@pytest.mark.parametrize(("case", "target", "value", "verdict"), TARGETS, ids=[row[0] for row in TARGETS])
def test_verdicts(case: str, target: Target, value: float, verdict: str) -> None:
    figure = Figure("k", "a figure", value, "ms", target)
    assert figure.verdict == verdict
    assert verdict in "\n".join(section_lines("S", [figure]))
    assert verdict in "\n".join(summary_lines([figure]))


PERCENTILES = [
    ("empty", [], 0.99, 0.0),
    ("one", [7.0], 0.5, 7.0),
    ("median_of_ten", [float(n) for n in range(1, 11)], 0.5, 5.0),
    ("p99_of_hundred", [float(n) for n in range(1, 101)], 0.99, 99.0),
    ("max", [3.0, 1.0, 2.0], 1.0, 3.0),
]


@pytest.mark.parametrize(("case", "samples", "q", "expected"), PERCENTILES, ids=[row[0] for row in PERCENTILES])
def test_percentile(case: str, samples: list[float], q: float, expected: float) -> None:
    assert percentile(samples, q) == expected


def test_missing_plugin_is_a_message_not_a_crash() -> None:
    result = run_plugin("does_not_exist")
    assert result.figures == []
    assert "not there yet" in result.message


def test_procfs_reads_this_process() -> None:
    import os

    pid = os.getpid()
    assert (rss_mib(pid) or 0) > 1
    assert (peak_rss_mib(pid) or 0) >= (rss_mib(pid) or 0) * 0.5
    assert (cpu_seconds(pid) or 0) > 0
    assert rss_mib(2**22 + 12345) is None  # no such process

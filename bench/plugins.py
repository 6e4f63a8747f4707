"""Benchmarks other parts contribute: bench/bench_email.py and bench/bench_intel.py, each `run() -> dict`."""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.report import Figure, Target

# Targets of the other issues, applied by key: SMTP ingest ratio >= 0.6 (email), text pipeline p95 <= 2 ms (intel).
TARGETS: dict[str, Callable[[str], Target | None]] = {
    "email": lambda key: Target(">=", 0.6) if key.endswith("ratio") else None,
    "intel": lambda key: Target("<=", 2.0) if key == "intel_enrich_p95_ms" else None,
}


def _no_target(_key: str) -> Target | None:
    return None


@dataclass(frozen=True, slots=True)
class PluginResult:
    """The figures of one plugin, or why there are none."""

    name: str
    figures: list[Figure]
    message: str = ""


def run_plugin(name: str) -> PluginResult:
    """Import bench.bench_<name> and run it; a missing module or a failure is a message, not a crash."""
    module_name = f"bench.bench_{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return PluginResult(name, [], f"{module_name} is not there yet: skipped")
        return PluginResult(name, [], f"{module_name} cannot be imported: {exc}")
    run: Callable[[], Mapping[str, float]] | None = getattr(module, "run", None)
    if not callable(run):
        return PluginResult(name, [], f"{module_name} has no run(): skipped")
    try:
        values = run()
    except Exception as exc:  # another part's failure must not hide the rest of the report
        return PluginResult(name, [], f"{module_name}.run() failed: {exc!r}\n{traceback.format_exc()}")
    target = TARGETS.get(name, _no_target)
    figures = [
        Figure(key if key.startswith(name) else f"{name}_{key}", key, float(value), "", target(key))
        for key, value in dict(values).items()
    ]
    return PluginResult(name, figures)

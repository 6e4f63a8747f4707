"""The routing rules file: it loads, it fails loudly when wrong, and it routes the fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ConfigurationError
from gateway.intel.matching import for_matching
from gateway.intel.routing_rules import RoutingRules
from tests.intel.conftest import RULES

MINIMAL = """
agencies:
  - {id: a, name: A, registry_id: EXAMPLE-A}
  - {id: b, name: B, registry_id: EXAMPLE-B}
rules:
  - {name: ra, agency: a, keywords: [sampah, "tempat sampah"], confidence: 0.9}
  - {name: rb, agency: b, keywords: [jalan*], confidence: 0.8}
  - {name: rb-region, agency: b, keywords: [taman], regions: ["32.73.02"]}
  - {name: rb-category, agency: b, categories: [jalan_drainase]}
"""


def _load(tmp_path: Path, text: str) -> RoutingRules:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return RoutingRules.load(path)


def test_example_file_loads_with_marked_example_ids(rules: RoutingRules) -> None:
    assert rules.spec.jurisdiction == "32.73"
    assert len(rules.agencies) == 10
    assert all(a.registry_id.startswith("EXAMPLE-") for a in rules.spec.agencies)
    assert "MADE-UP EXAMPLE" in RULES.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "category", "region", "agency"),
    [
        ("sampah numpuk", None, None, "a"),
        ("jalanan rusak", None, None, "b"),
        ("taman kotor", None, "32.73.02.1001", "b"),
        ("taman kotor", None, "32.73.05.1001", None),
        ("apa saja", "jalan_drainase", None, "b"),
        ("tidak ada kata kunci", None, None, None),
    ],
    ids=["keyword", "wildcard", "region-inside", "region-outside", "category", "fallback"],
)
def test_decide(tmp_path: Path, text: str, category: str | None, region: str | None, agency: str | None) -> None:
    decision = _load(tmp_path, MINIMAL).decide(for_matching(text), category=category, region_code=region)
    assert (decision.agency if decision else None) == agency


def test_conflict_lowers_confidence(tmp_path: Path) -> None:
    rules = _load(tmp_path, MINIMAL)
    clean = rules.decide(for_matching("tempat sampah penuh"))
    mixed = rules.decide(for_matching("sampah di jalan"))
    assert clean is not None and mixed is not None
    assert clean.confidence == 0.9
    assert mixed.confidence < clean.confidence and mixed.alternatives


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (MINIMAL.replace("agency: a,", "agency: zz,"), "invalid routing rules"),
        (MINIMAL + "unknown_key: 1\n", "invalid routing rules"),
        (MINIMAL.replace("registry_id: EXAMPLE-B", "registry_id: EXAMPLE-B, colour: red"), "invalid routing rules"),
        (MINIMAL.replace("id: b,", "id: a,"), "invalid routing rules"),
        ("agencies: [\n", "routing rules file is not valid YAML"),
        ("agencies: []\nrules: [{name: r, agency: x}]\n", "invalid routing rules"),
    ],
    ids=["unknown-agency", "unknown-top-level-key", "unknown-agency-key", "duplicate-agency", "bad-yaml",
         "rule-without-keywords"],
)
def test_invalid_files_fail_loudly(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _load(tmp_path, text)
    assert caught.value.reason == reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        RoutingRules.load(tmp_path / "absent.yaml")


def test_example_rules_route_the_development_set(rules: RoutingRules, devset: list[dict[str, Any]]) -> None:
    decisions = [(d, rules.decide(for_matching(d["text"]))) for d in devset]
    correct = sum(dec is not None and dec.agency == d["agency"] for d, dec in decisions)
    confident = [(d, dec) for d, dec in decisions if dec is not None and dec.confidence >= 0.7]
    confident_correct = sum(dec.agency == d["agency"] for d, dec in confident)
    # 0.958 / 0.993 when written; the rules were written with this set in view (see the fixture README).
    assert correct / len(devset) >= 0.93
    assert confident_correct / len(confident) >= 0.97

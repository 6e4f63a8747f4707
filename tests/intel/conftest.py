"""Shared fixtures of the intel tests: the development set, a router trained on its older part, a context."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.intel.context import IntelContext
from gateway.intel.router import load_examples, train
from gateway.intel.routing_rules import RoutingRules
from gateway.intel.settings import IntelSettings

REPO = Path(__file__).resolve().parents[2]
DEVSET = REPO / "tests" / "fixtures" / "intel" / "devset.jsonl"
RULES = REPO / "config" / "routing.yaml"
# The time-ordered split used everywhere: train before, test from this instant.
TEST_FROM = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def devset() -> list[dict[str, Any]]:
    """The composed development set, one dict per message."""
    return [json.loads(line) for line in DEVSET.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="session")
def rules() -> RoutingRules:
    """The example Kota Bandung rules."""
    return RoutingRules.load(RULES)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory, rules: RoutingRules) -> Path:
    """A router trained only on the development set before TEST_FROM."""
    examples = [e for e in load_examples(DEVSET) if e.received_at < TEST_FROM]
    path = tmp_path_factory.mktemp("router") / "router.model"
    train(examples, rules=rules).save(path)
    return path


@pytest.fixture(scope="session")
def context(model_path: Path) -> IntelContext:
    """A context with the rules and the (shadow-mode) trained model."""
    return IntelContext.from_settings(IntelSettings(routing_rules=str(RULES), model_path=str(model_path)))


@pytest.fixture(scope="session")
def rules_only_context() -> IntelContext:
    """A context without a model: only the rules route."""
    return IntelContext.from_settings(IntelSettings(routing_rules=str(RULES)))

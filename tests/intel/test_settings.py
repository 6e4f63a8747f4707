"""IntelSettings fail loudly; IntelContext fails loudly on a bad rules file, model or jurisdiction."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.errors import ConfigurationError
from gateway.intel.context import IntelContext
from gateway.intel.settings import IntelSettings
from tests.intel.conftest import RULES


@pytest.mark.parametrize(
    "values",
    [{"unknown": 1}, {"rules_min_confidence": 1.5}, {"spam_threshold": 0}],
    ids=["unknown-key", "confidence-above-one", "zero-spam-threshold"],
)
def test_invalid_settings(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IntelSettings.model_validate(values)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"routing_rules": "absent.yaml"}, "routing rules file not found"),
        ({"routing_rules": str(RULES), "model_path": "absent.model"}, "router model not found"),
        ({"routing_rules": str(RULES), "jurisdiction": "99.99"}, "unknown jurisdiction region code"),
    ],
    ids=["missing-rules", "missing-model", "unknown-jurisdiction"],
)
def test_context_fails_loudly(tmp_path: Path, values: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        IntelContext.from_settings(IntelSettings.model_validate(values), base_dir=tmp_path)
    assert caught.value.reason == reason


def test_relative_paths_use_base_dir() -> None:
    context = IntelContext.from_settings(IntelSettings(), base_dir=RULES.parents[1])
    assert context.model is None and context.auto_threshold() is None

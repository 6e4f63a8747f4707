"""Fixtures for lifecycle tests."""

from __future__ import annotations

import pytest

from tests.lifecycle.complaints import MakeComplaint, build_complaint


@pytest.fixture
def make_complaint() -> MakeComplaint:
    """The complaint builder as a fixture."""
    return build_complaint

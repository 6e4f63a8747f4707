"""A console for CLI tests: a working directory and a fresh SQLite path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.console import Console


@pytest.fixture
def console(tmp_path: Path) -> Console:
    """The console script, run in tmp_path, on tmp_path/var/gateway.db."""
    return Console(workdir=tmp_path, database=tmp_path / "var" / "gateway.db")

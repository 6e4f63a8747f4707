"""Where the shared corpus of real messages lives, and the rule for when it is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_dir(name: str = "") -> Path:
    """A folder of ../shared/corpus; skips outside CI when absent, fails in CI."""
    path = CORPUS / name if name else CORPUS
    if not path.is_dir():
        message = f"corpus folder {path} is missing"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path

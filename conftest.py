"""Fixtures shared by every package's tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Tests are never timed (speed lives in bench/): on a loaded 2-core machine a per-example
# deadline fails correct code.
settings.register_profile("project", deadline=None)
settings.load_profile("project")

REPO_ROOT = Path(__file__).resolve().parent
CORPUS = REPO_ROOT.parent / "shared" / "corpus"
# Test helpers that several packages' tests share (e.g. the loopback HTTP repository).
sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The real AerynOS data in ../shared/corpus; tests that need it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {CORPUS} (it lives beside the checkout in shared/)")
    return CORPUS

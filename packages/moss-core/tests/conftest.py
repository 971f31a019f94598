from __future__ import annotations

from pathlib import Path

import pytest

# <repo root>/packages/moss-core/tests/conftest.py -> <repo root>/../shared/corpus
CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {CORPUS}")
    return CORPUS

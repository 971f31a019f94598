"""Fixtures the repository tests share: a scratch root, a served directory and its server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import loopback_http as loopback
import pytest

from moss_core.installation import Installation

from .repo_helpers import scratch_root


@pytest.fixture
def installation(tmp_path: Path) -> Installation:
    return scratch_root(tmp_path)


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    """The directory the loopback server serves."""
    directory = tmp_path / "served"
    directory.mkdir()
    return directory


@pytest.fixture
def server(repo_dir: Path) -> Iterator[loopback.LoopbackServer]:
    yield from loopback.serving(repo_dir)

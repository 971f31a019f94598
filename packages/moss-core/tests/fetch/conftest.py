from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback_http import LoopbackServer, serving

from moss_core.installation import Installation


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "repo"
    directory.mkdir()
    return directory


@pytest.fixture
def server(repo_dir: Path) -> Iterator[LoopbackServer]:
    yield from serving(repo_dir)


@pytest.fixture
def installation(tmp_path: Path) -> Installation:
    root = tmp_path / "root"
    root.mkdir()
    return Installation.open(root)

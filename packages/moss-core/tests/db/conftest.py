from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moss_core.db import LayoutDb, MetaDb, StateDb


@pytest.fixture
def meta_db(tmp_path: Path) -> Iterator[MetaDb]:
    with MetaDb.open(tmp_path / "install") as db:
        yield db


@pytest.fixture
def layout_db(tmp_path: Path) -> Iterator[LayoutDb]:
    with LayoutDb.open(tmp_path / "layout") as db:
        yield db


@pytest.fixture
def state_db(tmp_path: Path) -> Iterator[StateDb]:
    with StateDb.open(tmp_path / "state") as db:
        yield db

"""Resolution at scale: an index of the real corpus, large transactions resolved against it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from moss_core.db import MetaDb
from moss_core.registry import MemorySource, Registry
from moss_core.repository import Repository, RepositorySource
from moss_core.resolve import Lookup, resolve
from stone import FlatMeta, StoneReader

from .corpus_index import (
    OUTSIDE,
    corpus_metas,
    index_bytes,
    packages,
    unsatisfied,
    with_outside_world,
)


@pytest.fixture(scope="module")
def metas(corpus: Path) -> list:  # type: ignore[type-arg]
    return with_outside_world(corpus_metas(corpus))


def test_everything_kf6_needs(metas: list) -> None:  # type: ignore[type-arg]
    registry = Registry([MemorySource("corpus", 0, packages(metas))])
    roots = [p for p in registry.available() if p.name.startswith("kf6-")]
    assert len(roots) > 50
    started = time.perf_counter()
    chosen = resolve(registry, [p.id for p in roots], Lookup.AVAILABLE_ONLY)
    elapsed = time.perf_counter() - started
    names = [p.name for p in chosen]
    assert len(names) == len(set(names))
    assert {p.name for p in roots} <= set(names)
    assert len(chosen) > len(roots)
    assert unsatisfied(chosen) == {}
    assert elapsed < 10


def test_every_package_resolves_from_an_sqlite_index(tmp_path: Path, metas: list) -> None:  # type: ignore[type-arg]
    index = tmp_path / "stone.index"
    index.write_bytes(index_bytes(metas))
    with StoneReader(index) as reader:
        read_back = reader.metas()
    assert len(read_back) == len(metas)
    MetaDb.rebuild(tmp_path / "db", ((meta.hash or "", FlatMeta.of(meta)) for meta in read_back))
    db = MetaDb.open(tmp_path / "db")
    repo = Repository(id="corpus", uri=f"file://{index}", priority=0)
    source = RepositorySource(repo, db, repo.uri)
    try:
        registry = Registry([source])
        roots = [p.id for p in registry.available() if p.name != OUTSIDE]
        chosen = resolve(registry, roots, Lookup.AVAILABLE_ONLY)
        assert len(chosen) == len(metas)
        assert unsatisfied(chosen) == {}
    finally:
        source.close()

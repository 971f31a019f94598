"""Registry.search: each source filters its own packages, and the result is what filtering
every installed package and every available winner would give."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from moss_core.db import MetaDb
from moss_core.registry import (
    INSTALLED_PRIORITY,
    MemorySource,
    Package,
    Registry,
    Source,
    ascii_lower,
    matches,
)
from moss_core.repository import Repository, RepositorySource
from stone import Meta

NAMES = ["foo", "bar", "foobar", "Baz", "qux"]
SUMMARIES = ["", "A FOO tool", "bar none", "Ünïcode Foo", "plain"]
KEYWORDS = ["foo", "BA", "z", "", "none", "ü", "nothing"]


def _package(source: str, name: str, summary: str, release: int, build: int) -> Package:
    digest = hashlib.sha256(f"{source}/{name}/{summary}/{release}/{build}".encode()).hexdigest()
    meta = Meta(name=name, version="1", release=release, build_release=build, summary=summary)
    return Package(digest, meta, source=source, installed=source == "installed")


packages = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.sampled_from(SUMMARIES),
        st.integers(1, 3),
        st.integers(1, 2),
    ),
    max_size=8,
)


def _reference(registry: Registry, keyword: str, installed_only: bool) -> list[Package]:
    """Filtering every installed package and every available winner, first per name."""
    pool = registry.installed()
    if not installed_only:
        pool += list(registry.available())
    seen: dict[str, Package] = {}
    for package in pool:
        if package.name not in seen and matches(keyword, package.name, package.meta.summary):
            seen[package.name] = package
    needle = ascii_lower(keyword)
    return sorted(seen.values(), key=lambda p: (needle not in ascii_lower(p.name), p.name))


@settings(max_examples=40, deadline=None)
@given(
    packages.map(lambda rows: list({row[0]: row for row in rows}.values())),
    packages,
    packages,
    st.sampled_from(KEYWORDS),
    st.booleans(),
)
def test_search_matches_filtering_every_winner(
    installed: list[tuple[str, str, int, int]],
    high: list[tuple[str, str, int, int]],
    low: list[tuple[str, str, int, int]],
    keyword: str,
    installed_only: bool,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = MetaDb.open(Path(tmp) / "db")
        try:
            repo = [_package("repo", *row) for row in high]
            db.add((p.id, p.meta) for p in repo)
            sources: list[Source] = [
                MemorySource(
                    "installed",
                    INSTALLED_PRIORITY,
                    [_package("installed", *row) for row in installed],
                    installed=True,
                ),
                RepositorySource(Repository("repo", "file:///r/stone.index", 10), db, "file:///r"),
                MemorySource("low", 0, [_package("low", *row) for row in low]),
            ]
            registry = Registry(sources)
            found = registry.search(keyword, installed=True if installed_only else None)
            assert [(p.id, p.source) for p in found] == [
                (p.id, p.source) for p in _reference(registry, keyword, installed_only)
            ]
        finally:
            db.close()


def test_case_is_ignored_for_ascii_letters_only() -> None:
    assert matches("FOO", "libfoo", "")
    assert matches("tool", "x", "A TOOL")
    assert not matches("ü", "Ü", "")

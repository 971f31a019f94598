"""Refreshing a repository, the registry source it becomes, and checked downloads."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from moss_core.db import MetaDb
from moss_core.installation import Installation
from moss_core.registry import Package, Registry
from moss_core.repository import (
    INDEX_NAME,
    Repository,
    RepositoryConfig,
    RepositoryError,
    RepositorySource,
    build_index,
    fetch_package,
    open_sources,
    refresh,
    repo_state_dir,
)
from moss_core.repository.source import index_uri_of
from stone import Provider

from .repo_helpers import make_stone, sha256_of, write_raw_index


def local_repo(directory: Path, repo_id: str = "local", priority: int = 0) -> Repository:
    build_index(directory)
    return Repository(repo_id, (directory / INDEX_NAME).as_uri(), priority)


def source_for(installation: Installation, repo: Repository) -> RepositorySource:
    db = MetaDb.open(repo_state_dir(installation, repo) / "db")
    return RepositorySource(repo, db, repo.uri)


@pytest.fixture(params=["sequential", "shared"])
def first_load(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A first refresh loading its index here, or shared out between forked workers as one
    of 8,192 packages or more is."""
    if request.param == "shared":
        monkeypatch.setattr("moss_core.db.meta._SHARED_FROM", 1)
    return str(request.param)


@pytest.mark.usefixtures("first_load")
def test_refresh_then_lookups(installation: Installation, tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    old = make_stone(packages, "zlib", version="1.3", release=4, provides=["soname(libz.so.1)"])
    make_stone(packages / "ng", "zlib-ng", release=1, provides=["soname(libz.so.1)"])
    make_stone(packages, "bash", release=9, depends=["soname(libz.so.1)"])
    repo = local_repo(packages)

    assert refresh(installation, repo) == 3

    state = repo_state_dir(installation, repo)
    assert state == installation.repo_dir / repo.key()
    assert (state / INDEX_NAME).read_bytes() == (packages / INDEX_NAME).read_bytes()
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith("db")) == [INDEX_NAME]
    source = source_for(installation, repo)
    try:
        assert (source.name, source.priority, source.installed) == ("local", 0, False)
        found = source.by_provider(Provider.parse("soname(libz.so.1)"))
        assert [(p.name, p.meta.release) for p in found] == [("zlib", 4), ("zlib-ng", 1)]
        assert all(p.source == "local" and not p.installed for p in found)
        zlib = found[0]
        assert zlib.id == sha256_of(old)
        assert source.by_id(zlib.id) == zlib
        assert source.by_id("0" * 64) is None
        assert [p.name for p in source.all()] == ["bash", "zlib", "zlib-ng"]
        assert source.package_uri(zlib) == old.as_uri()
    finally:
        source.close()


def test_newest_release_first_within_a_repository(
    installation: Installation, tmp_path: Path
) -> None:
    # An index may list one name twice (a hand-made one, or two names providing one thing).
    one = make_stone(tmp_path / "r", "foo", release=1)
    two = make_stone(tmp_path / "r", "foo", release=2)
    metas = build_index(tmp_path / "r", tmp_path)
    assert [m.release for m in metas] == [2]
    older = replace(metas[0], release=1, uri=f"r/{one.name}", hash=sha256_of(one))
    older = replace(older, download_size=one.stat().st_size)
    write_raw_index(tmp_path / INDEX_NAME, [older, metas[0]])
    repo = Repository("r", (tmp_path / INDEX_NAME).as_uri(), 0)
    refresh(installation, repo)
    source = source_for(installation, repo)
    try:
        found = source.by_provider(Provider.parse("foo"))
        assert [p.id for p in found] == [sha256_of(two), sha256_of(one)]
    finally:
        source.close()


def test_registry_orders_repositories_by_priority_then_id(
    installation: Installation, tmp_path: Path
) -> None:
    for repo_id, release in [("hi", 2), ("lo", 1), ("alpha", 3), ("beta", 4), ("off", 100)]:
        make_stone(tmp_path / repo_id, "foo", release=release)
    config = RepositoryConfig.load(installation)
    config.add(local_repo(tmp_path / "hi", "hi", 10))
    config.add(local_repo(tmp_path / "lo", "lo", 0))
    config.add(local_repo(tmp_path / "beta", "beta", 5))
    config.add(local_repo(tmp_path / "alpha", "alpha", 5))
    off = local_repo(tmp_path / "off", "off", 99)
    config.add(off)
    config.set_active("off", False)

    sources = open_sources(installation)
    try:
        assert [s.name for s in sources] == ["hi", "alpha", "beta", "lo"]
        registry = Registry(sources)
        found = registry.by_name("foo")
        assert [(p.source, p.meta.release) for p in found] == [
            ("hi", 2),
            ("alpha", 3),
            ("beta", 4),
            ("lo", 1),
        ]
        assert not repo_state_dir(installation, off).exists()
    finally:
        for source in sources:
            source.close()


def test_open_sources_refreshes_only_never_refreshed_repositories(
    installation: Installation, tmp_path: Path
) -> None:
    make_stone(tmp_path / "r", "foo")
    repo = local_repo(tmp_path / "r")
    RepositoryConfig.load(installation).add(repo)
    assert not repo_state_dir(installation, repo).exists()

    (sources,) = [open_sources(installation)]
    assert [p.name for s in sources for p in s.all()] == ["foo"]
    for source in sources:
        source.close()

    make_stone(tmp_path / "r", "bar")
    build_index(tmp_path / "r")
    config = RepositoryConfig.load(installation)
    sources = open_sources(installation, config=config)
    assert [p.name for s in sources for p in s.all()] == ["foo"]
    for source in sources:
        source.close()


def test_corrupt_index_keeps_the_previous_one(installation: Installation, tmp_path: Path) -> None:
    make_stone(tmp_path / "r", "foo")
    repo = local_repo(tmp_path / "r")
    refresh(installation, repo)
    state = repo_state_dir(installation, repo)
    index_before = (state / INDEX_NAME).read_bytes()

    index = tmp_path / "r" / INDEX_NAME
    data = bytearray(index.read_bytes())
    data[-5] ^= 0xFF
    index.write_bytes(bytes(data))
    with pytest.raises(RepositoryError) as caught:
        refresh(installation, repo)
    message = str(caught.value)
    assert message.startswith(f"{repo.uri}: ") and "\n" not in message

    assert (state / INDEX_NAME).read_bytes() == index_before
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith("db")) == [INDEX_NAME]
    source = source_for(installation, repo)
    try:
        assert [p.name for p in source.all()] == ["foo"]
    finally:
        source.close()


@pytest.mark.usefixtures("first_load")
def test_a_failed_first_refresh_leaves_no_database(
    installation: Installation, tmp_path: Path
) -> None:
    make_stone(tmp_path, "foo")
    meta = build_index(tmp_path)[0]
    # The bad package comes after a good one: the DB has taken rows when the error is found.
    write_raw_index(tmp_path / INDEX_NAME, [meta, replace(meta, name="zzz", hash="bad")])
    repo = Repository("x", (tmp_path / INDEX_NAME).as_uri(), 0)
    with pytest.raises(
        RepositoryError, match=rf"^{repo.uri}: package zzz has no valid PackageHash$"
    ):
        refresh(installation, repo)
    assert not any(repo_state_dir(installation, repo).glob("db*"))
    assert index_uri_of(installation, repo) is None


def test_refresh_errors_name_the_uri(installation: Installation, tmp_path: Path) -> None:
    stone = make_stone(tmp_path, "foo")
    not_index = Repository("x", stone.as_uri(), 0)
    with pytest.raises(
        RepositoryError, match=rf"^{stone.as_uri()}: archive is binary, expected repository$"
    ):
        refresh(installation, not_index)

    missing = Repository("x", (tmp_path / "nope" / INDEX_NAME).as_uri(), 0)
    with pytest.raises(RepositoryError, match=rf"^{missing.uri}: No such file or directory$"):
        refresh(installation, missing)

    meta = build_index(tmp_path)[0]
    write_raw_index(tmp_path / INDEX_NAME, [replace(meta, hash="not-a-hash")])
    bad_hash = Repository("x", (tmp_path / INDEX_NAME).as_uri(), 0)
    with pytest.raises(RepositoryError, match="package foo has no valid PackageHash"):
        refresh(installation, bad_hash)


def test_package_uri_resolves_against_an_http_index(tmp_path: Path) -> None:
    repo = Repository("remote", "https://example.org/x86_64/stone.index", 0)
    stone = make_stone(tmp_path, "foo")
    meta = build_index(tmp_path)[0]
    db = MetaDb.open(tmp_path / "db")
    source = RepositorySource(repo, db, repo.uri)
    try:
        package = Package(sha256_of(stone), meta, "remote")
        assert source.package_uri(package) == f"https://example.org/x86_64/{stone.name}"
    finally:
        source.close()


@pytest.fixture
def refreshed(
    installation: Installation, tmp_path: Path
) -> Iterator[tuple[RepositorySource, Path]]:
    stone = make_stone(tmp_path / "r", "foo")
    repo = local_repo(tmp_path / "r")
    refresh(installation, repo)
    source = source_for(installation, repo)
    yield source, stone
    source.close()


def test_fetch_package_copies_and_reuses(
    installation: Installation, refreshed: tuple[RepositorySource, Path]
) -> None:
    source, stone = refreshed
    (package,) = source.all()
    path = fetch_package(installation, source, package)
    assert path == installation.download_path(package.id)
    assert path.read_bytes() == stone.read_bytes()

    stone.unlink()  # a valid cached copy is used without going back to the repository
    assert fetch_package(installation, source, package) == path
    assert list(path.parent.iterdir()) == [path]


def test_fetch_package_replaces_a_bad_cached_copy(
    installation: Installation, refreshed: tuple[RepositorySource, Path]
) -> None:
    source, stone = refreshed
    (package,) = source.all()
    target = installation.download_path(package.id)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"junk")
    target.with_name(target.name + ".part").write_bytes(b"leftover")
    assert fetch_package(installation, source, package).read_bytes() == stone.read_bytes()
    assert list(target.parent.iterdir()) == [target]


def test_corrupt_package_is_refused_and_nothing_is_left(
    installation: Installation, refreshed: tuple[RepositorySource, Path]
) -> None:
    source, stone = refreshed
    (package,) = source.all()
    data = bytearray(stone.read_bytes())
    data[len(data) // 2] ^= 0x01
    stone.write_bytes(bytes(data))

    with pytest.raises(RepositoryError) as caught:
        fetch_package(installation, source, package)
    actual = sha256_of(stone)
    assert str(caught.value) == (
        f"foo: {stone.as_uri()}: sha256 mismatch, expected {package.id}, got {actual}"
    )
    target = installation.download_path(package.id)
    assert not target.exists()
    assert not target.with_name(target.name + ".part").exists()

    stone.write_bytes(bytes(data[:-10]))
    with pytest.raises(RepositoryError, match=f"size mismatch, expected {len(data)} bytes, got"):
        fetch_package(installation, source, package)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


@pytest.mark.parametrize(
    "uri",
    [
        "../../etc/passwd",
        "../outside.stone",
        "sub/../../outside.stone",
        "%2e%2e/outside.stone",
        "sub/%2E%2E/%2e%2e/outside.stone",
        "/etc/passwd",
        "file:///etc/passwd",
        "https://evil.example.org/foo.stone",
        "//evil.example.org/foo.stone",
    ],
)
def test_package_uri_may_not_leave_the_repository(
    installation: Installation, tmp_path: Path, uri: str
) -> None:
    stone = make_stone(tmp_path / "repo", "foo")
    meta = build_index(tmp_path / "repo")[0]
    write_raw_index(tmp_path / "repo" / INDEX_NAME, [replace(meta, uri=uri)])
    repo = Repository("r", (tmp_path / "repo" / INDEX_NAME).as_uri(), 0)
    refresh(installation, repo)
    source = source_for(installation, repo)
    try:
        (package,) = source.all()
        with pytest.raises(RepositoryError, match=r"^r: package foo: URI .* leaves the repository"):
            fetch_package(installation, source, package)
        assert package.id == sha256_of(stone)
        assert not installation.download_path(package.id).parent.exists()
    finally:
        source.close()


def test_package_uri_may_use_subdirectories(installation: Installation, tmp_path: Path) -> None:
    stone = make_stone(tmp_path / "repo" / "f" / "foo", "foo")
    repo = local_repo(tmp_path / "repo")
    refresh(installation, repo)
    source = source_for(installation, repo)
    try:
        (package,) = source.all()
        assert package.meta.uri == f"f/foo/{stone.name}"
        assert fetch_package(installation, source, package).read_bytes() == stone.read_bytes()
    finally:
        source.close()


def test_corpus_repository(corpus: Path, installation: Installation, tmp_path: Path) -> None:
    repo_dir = tmp_path / "corpus-repo"
    # Files only: the corpus directory may be read-only, and a copy of its mode would be too.
    repo_dir.mkdir()
    for stone in (corpus / "stones").glob("*.stone"):
        shutil.copyfile(stone, repo_dir / stone.name)
    repo = local_repo(repo_dir)
    assert refresh(installation, repo) == 3
    source = source_for(installation, repo)
    try:
        (pizza,) = source.by_provider(Provider.parse("name(italian-pizza)"))
        assert Provider.parse("name(pineapple)") in pizza.meta.conflicts
        completion = source.by_provider(Provider.parse("bash-completion"))[0]
        path = fetch_package(installation, source, completion)
        assert os.path.getsize(path) == completion.meta.download_size
        assert (
            path.read_bytes() == (repo_dir / "bash-completion-2.11-1-1-x86_64.stone").read_bytes()
        )
    finally:
        source.close()

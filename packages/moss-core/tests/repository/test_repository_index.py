"""`build_index`: which packages an index lists, and how."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from moss_core.repository import INDEX_NAME, RepositoryError, build_index
from stone import FileType, Provider, StoneReader, write_manifest

from .repo_helpers import make_stone, sha256_of


def read_index(path: Path) -> StoneReader:
    return StoneReader(path).expect(FileType.REPOSITORY)


def test_index_lists_packages_by_name_with_relative_uri_hash_and_size(tmp_path: Path) -> None:
    zlib = make_stone(tmp_path / "z", "zlib", provides=["soname(libz.so.1(x86_64))"])
    bash = make_stone(tmp_path / "b" / "deep", "bash", depends=["soname(libz.so.1(x86_64))"])
    attr = make_stone(tmp_path, "attr")
    seen: list[Path] = []

    metas = build_index(tmp_path, on_file=seen.append)

    assert [m.name for m in metas] == ["attr", "bash", "zlib"]
    expected = {"attr": (attr, attr.name), "bash": (bash, f"b/deep/{bash.name}")}
    expected["zlib"] = (zlib, f"z/{zlib.name}")
    for meta in metas:
        path, uri = expected[meta.name]
        assert meta.uri == uri
        assert meta.hash == sha256_of(path)
        assert meta.download_size == path.stat().st_size
    assert sorted(seen) == sorted([attr, bash, zlib])
    with read_index(tmp_path / INDEX_NAME) as reader:
        written = reader.metas()
    assert written == metas
    assert written[2].provides == (Provider.parse("soname(libz.so.1(x86_64))"),)
    assert [str(d) for d in written[1].depends] == ["soname(libz.so.1(x86_64))"]


def test_highest_release_of_a_name_wins(tmp_path: Path) -> None:
    make_stone(tmp_path, "foo", version="1.0", release=1)
    newest = make_stone(tmp_path / "new", "foo", version="1.2", release=3)
    make_stone(tmp_path, "foo", version="1.1", release=2)

    (meta,) = build_index(tmp_path)

    assert (meta.version, meta.release, meta.uri) == ("1.2", 3, f"new/{newest.name}")


def test_two_files_with_one_name_and_release_are_an_error(tmp_path: Path) -> None:
    make_stone(tmp_path / "a", "foo", release=2, build_release=1)
    make_stone(tmp_path / "b", "foo", release=2, build_release=2)
    make_stone(tmp_path / "c", "foo", release=5)

    with pytest.raises(RepositoryError, match="package foo has two files with the same release 2"):
        build_index(tmp_path)
    assert not (tmp_path / INDEX_NAME).exists()


def test_output_directory_must_contain_the_packages(tmp_path: Path) -> None:
    stone = make_stone(tmp_path / "repo" / "pkgs", "foo")

    (meta,) = build_index(tmp_path / "repo" / "pkgs", tmp_path / "repo")
    assert meta.uri == f"pkgs/{stone.name}"
    assert (tmp_path / "repo" / INDEX_NAME).is_file()

    elsewhere = tmp_path / "out"
    elsewhere.mkdir()
    with pytest.raises(RepositoryError, match="outside the index directory"):
        build_index(tmp_path / "repo" / "pkgs", elsewhere)


def test_empty_directory_gives_an_empty_index(tmp_path: Path) -> None:
    assert build_index(tmp_path) == []
    with read_index(tmp_path / INDEX_NAME) as reader:
        assert reader.metas() == []


def test_files_that_are_not_binary_packages_are_refused(tmp_path: Path) -> None:
    make_stone(tmp_path, "foo")
    with open(tmp_path / "manifest.stone", "wb") as out:
        write_manifest(out, [])
    with pytest.raises(RepositoryError, match=r"manifest\.stone: archive is build-manifest"):
        build_index(tmp_path)

    (tmp_path / "manifest.stone").write_bytes(b"not a stone at all, just text")
    with pytest.raises(RepositoryError, match=r"manifest\.stone: "):
        build_index(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RepositoryError, match="not a directory"):
        build_index(tmp_path / "nope")


def test_reindexing_replaces_the_index(tmp_path: Path) -> None:
    make_stone(tmp_path, "foo", release=1)
    build_index(tmp_path)
    make_stone(tmp_path, "foo", release=2)
    make_stone(tmp_path, "bar")
    assert [(m.name, m.release) for m in build_index(tmp_path)] == [("bar", 1), ("foo", 2)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".stone") == [INDEX_NAME]


def test_corpus_stones(corpus: Path, tmp_path: Path) -> None:
    """The real packages (one written by the older D boulder) index like any other."""
    stones = sorted((corpus / "stones").glob("*.stone"))
    assert len(stones) == 3
    for stone in stones:
        shutil.copy(stone, tmp_path / stone.name)

    metas = build_index(tmp_path)

    assert [m.name for m in metas] == ["bash-completion", "italian-pizza", "pineapple"]
    for meta, stone in zip(metas, stones, strict=True):
        assert meta.uri == stone.name
        assert meta.hash == sha256_of(stone)
        assert meta.download_size == stone.stat().st_size
    pizza = metas[1]
    assert Provider.parse("name(pineapple)") in pizza.conflicts
    with StoneReader(stones[0]) as reader:
        original = reader.meta()
    assert metas[0].version == original.version
    assert metas[0].release == original.release
    assert metas[0].provides == original.provides

"""Unpacking packages into the store, several at once in worker processes: content verified,
records written together at the end, and what was done kept when one package fails."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import xxhash
from loopback_http import index_packages, make_package

from moss_core.client import cache
from moss_core.client.cache import PackageFileError, Unpacker
from moss_core.db import LayoutDb, MetaDb
from moss_core.installation import Installation
from moss_core.registry import Package
from moss_core.store import asset_relpath


@pytest.fixture
def installation(tmp_path: Path) -> Installation:
    root = tmp_path / "root"
    root.mkdir()
    return Installation.open(root)


def _packages(tmp_path: Path, count: int) -> list[Package]:
    repo = tmp_path / "repo"
    for number in range(count):
        make_package(repo, f"pkg{number:02d}", size=3000 + number)
    return index_packages(repo)


def _path(tmp_path: Path, package: Package) -> Path:
    return tmp_path / "repo" / (package.meta.uri or "")


@pytest.mark.parametrize("workers", [1, 2])
def test_every_package_lands_in_the_store_and_the_databases(
    tmp_path: Path, installation: Installation, workers: int
) -> None:
    packages = _packages(tmp_path, 6)
    with (
        MetaDb.open(installation.db_dir / "install") as install_db,
        LayoutDb.open(installation.db_dir / "layout") as layout_db,
    ):
        with (
            Unpacker(installation, install_db, layout_db, workers=workers) as unpacker,
            ThreadPoolExecutor(workers) as threads,
        ):
            metas = list(threads.map(lambda p: unpacker.unpack(p, _path(tmp_path, p)), packages))
            # Records are written together, when the unpacker closes.
            assert not layout_db.ids()
        assert [meta.name for meta in metas] == [p.name for p in packages]
        assert layout_db.ids() == {p.id for p in packages}
        assert set(install_db.get_many(p.id for p in packages)) == {p.id for p in packages}
        for package in packages:
            for _, entry in layout_db.query([package.id]):
                if entry.digest is not None:
                    asset = installation.assets_dir / asset_relpath(entry.digest)
                    assert xxhash.xxh3_128_intdigest(asset.read_bytes()) == entry.digest
    assert not list(installation.assets_dir.rglob("*.part"))


def test_a_corrupt_package_is_named_and_the_others_are_kept(
    tmp_path: Path, installation: Installation
) -> None:
    packages = _packages(tmp_path, 3)
    broken = _path(tmp_path, packages[1])
    data = bytearray(broken.read_bytes())
    data[-100] ^= 0xFF  # inside the content payload
    broken.write_bytes(bytes(data))
    with (
        MetaDb.open(installation.db_dir / "install") as install_db,
        LayoutDb.open(installation.db_dir / "layout") as layout_db,
    ):
        with Unpacker(installation, install_db, layout_db, workers=2) as unpacker:
            unpacker.unpack(packages[0], _path(tmp_path, packages[0]))
            with pytest.raises(PackageFileError, match=r"^pkg01: "):
                unpacker.unpack(packages[1], broken)
        assert layout_db.ids() == {packages[0].id}


def test_a_worker_that_dies_is_an_error_not_a_hang(
    tmp_path: Path, installation: Installation
) -> None:
    packages = _packages(tmp_path, 1)
    with (
        MetaDb.open(installation.db_dir / "install") as install_db,
        LayoutDb.open(installation.db_dir / "layout") as layout_db,
        Unpacker(installation, install_db, layout_db, workers=2) as unpacker,
    ):
        for process in list(unpacker._pool._processes.values()):  # type: ignore[union-attr]
            process.kill()
            process.join()
        with pytest.raises(PackageFileError, match=r"^pkg00: the unpacking process died$"):
            unpacker.unpack(packages[0], _path(tmp_path, packages[0]))


def test_with_no_process_to_spare_packages_unpack_here(
    tmp_path: Path, installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork(_workers: int) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(cache, "fork_pool", no_fork)
    packages = _packages(tmp_path, 2)
    with (
        MetaDb.open(installation.db_dir / "install") as install_db,
        LayoutDb.open(installation.db_dir / "layout") as layout_db,
    ):
        with Unpacker(installation, install_db, layout_db, workers=2) as unpacker:
            for package in packages:
                unpacker.unpack(package, _path(tmp_path, package))
        assert layout_db.ids() == {p.id for p in packages}

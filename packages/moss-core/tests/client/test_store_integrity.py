"""The store's BLAKE3 record: computed while unpacking, a crafted XXH3-128 collision refused
(XXH3 injected: a real collision cannot be made for a test), content altered in the store
caught by verify, and a store from before BLAKE3 migrated by verify, never trusted blindly."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sqlite3
from pathlib import Path

import blake3
import pytest
import xxhash

from moss_core.client.cache import AssetCollisionError, Unpacker
from moss_core.client.verify import Report, check_assets
from moss_core.db import LayoutDb, MetaDb
from moss_core.installation import Installation
from moss_core.registry import Package
from moss_core.store import asset_relpath
from stone import BytesBlob, LayoutEntry, Meta, write_binary

GOOD = b"the library everyone links\n" * 100
EVIL = b"what an attacker would rather run\n" * 100
# EVIL's package claims GOOD's name; the injected XXH3 agrees.
NAME = xxhash.xxh3_128_intdigest(GOOD)


class CollidingXxh3:
    """XXH3-128, except that EVIL hashes to GOOD's digest."""

    def __init__(self) -> None:
        self._real = xxhash.xxh3_128()

    def update(self, data: memoryview) -> None:
        self._real.update(data)

    def intdigest(self) -> int:
        digest = self._real.intdigest()
        return NAME if digest == xxhash.xxh3_128_intdigest(EVIL) else digest


def _package(directory: Path, name: str, path: str, content: bytes) -> tuple[Package, Path]:
    meta = Meta(
        name=name,
        version="1",
        release=1,
        build_release=1,
        architecture="x86_64",
        summary=name,
        description=name,
        source_id=name,
        homepage="https://example.org",
        licenses=("MPL-2.0",),
    )
    out = io.BytesIO()
    layout = [LayoutEntry.regular(path, NAME)]
    write_binary(out, meta, layout, {NAME: BytesBlob(content)})
    file = directory / f"{name}.stone"
    file.write_bytes(out.getvalue())
    return Package(hashlib.sha256(out.getvalue()).hexdigest(), meta, "local"), file


def _sql(installation: Installation, statement: str, *values: object) -> None:
    """Change the record behind moss's back, as a store from elsewhere would have it."""
    with contextlib.closing(sqlite3.connect(installation.db_dir / "layout")) as conn, conn:
        conn.execute(statement, values)


@pytest.fixture
def installation(tmp_path: Path) -> Installation:
    root = tmp_path / "root"
    root.mkdir()
    return Installation.open(root)


@pytest.fixture
def dbs(installation: Installation) -> tuple[MetaDb, LayoutDb]:
    return (
        MetaDb.open(installation.db_dir / "install"),
        LayoutDb.open(installation.db_dir / "layout"),
    )


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("same_run", [False, True])
def test_a_colliding_file_is_refused_naming_package_and_path(
    tmp_path: Path,
    installation: Installation,
    dbs: tuple[MetaDb, LayoutDb],
    workers: int,
    same_run: bool,
) -> None:
    install_db, layout_db = dbs
    good = _package(tmp_path, "libgood", "lib/libgood.so.1", GOOD)
    evil = _package(tmp_path, "evil", "bin/innocent", EVIL)
    asset = installation.assets_dir / asset_relpath(NAME)
    with Unpacker(
        installation, install_db, layout_db, workers=workers, new_hasher=CollidingXxh3
    ) as unpacker:
        unpacker.unpack(*good)
        if not same_run:
            unpacker.close()
            assert layout_db.blake3_of([NAME]) == {NAME: blake3.blake3(GOOD).digest()}
        with pytest.raises(AssetCollisionError) as refused:
            unpacker.unpack(*evil)
    message = str(refused.value)
    assert message.startswith("evil: /usr/bin/innocent has the XXH3-128")
    assert "refused as a hash collision" in message
    assert asset.read_bytes() == GOOD
    assert layout_db.ids() == {good[0].id}
    assert layout_db.blake3_of([NAME]) == {NAME: blake3.blake3(GOOD).digest()}


def test_an_unrecorded_asset_is_hashed_not_trusted(
    tmp_path: Path, installation: Installation, dbs: tuple[MetaDb, LayoutDb]
) -> None:
    install_db, layout_db = dbs
    # A store from before BLAKE3: the asset is there, no record says what it holds.
    asset = installation.assets_dir / asset_relpath(NAME)
    asset.parent.mkdir(parents=True)
    asset.write_bytes(GOOD)
    evil = _package(tmp_path, "evil", "bin/innocent", EVIL)
    with (
        Unpacker(installation, install_db, layout_db, new_hasher=CollidingXxh3) as unpacker,
        pytest.raises(AssetCollisionError),
    ):
        unpacker.unpack(*evil)
    good = _package(tmp_path, "libgood", "lib/libgood.so.1", GOOD)
    with Unpacker(installation, install_db, layout_db) as unpacker:
        unpacker.unpack(*good)
    assert layout_db.blake3_of([NAME]) == {NAME: blake3.blake3(GOOD).digest()}


def test_verify_catches_altered_content_and_migrates_an_old_store(
    tmp_path: Path, installation: Installation, dbs: tuple[MetaDb, LayoutDb]
) -> None:
    install_db, layout_db = dbs
    good = _package(tmp_path, "libgood", "lib/libgood.so.1", GOOD)
    with Unpacker(installation, install_db, layout_db) as unpacker:
        unpacker.unpack(*good)
    report = Report()
    check_assets(installation, layout_db, layout_db.digests(), report)
    assert report.issues == []

    # As a store written before BLAKE3 was recorded: verify records it, from the file.
    _sql(installation, "DELETE FROM moss_asset_blake3")
    check_assets(installation, layout_db, layout_db.digests(), Report())
    assert layout_db.blake3_of([NAME]) == {NAME: blake3.blake3(GOOD).digest()}

    # Content altered in place.
    asset = installation.assets_dir / asset_relpath(NAME)
    os.chmod(asset, 0o644)
    asset.write_bytes(GOOD.upper())
    report = Report()
    check_assets(installation, layout_db, layout_db.digests(), report)
    assert [issue.text for issue in report.issues] == [f"Corrupt asset {NAME:x}"]

    # Content whose XXH3 still matches but whose BLAKE3 does not (as a collision would be):
    # the record stands for the content that was unpacked.
    asset.write_bytes(GOOD)
    _sql(installation, "UPDATE moss_asset_blake3 SET blake3 = ?", blake3.blake3(EVIL).digest())
    report = Report()
    check_assets(installation, layout_db, layout_db.digests(), report)
    assert report.bad_digests == {NAME}

"""Getting packages into the store: their `.stone` in the download cache, content in the
assets, metadata and layout in the databases (in that order, so no row names a missing file)."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Mapping
from concurrent.futures import BrokenExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import xxhash

from moss_core.db import LayoutDb, MetaDb
from moss_core.errors import MossError
from moss_core.fs import sha256_file
from moss_core.installation import Installation
from moss_core.processes import fork_pool, usable_cores
from moss_core.registry import LOCAL_SOURCE, Package
from moss_core.store import ASSET_MODE, asset_relpath
from moss_core.trust.assets import Blake3Sink, conflicts, hash_file, paths_of
from stone import DirectorySink, FileKind, FileType, LayoutEntry, Meta, StoneError, StoneReader
from stone.content import NewHasher

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


class PackageFileError(MossError):
    """A `.stone` given or fetched is not a usable binary package."""


class AssetCollisionError(PackageFileError):
    """A package brings a file whose XXH3-128 names an asset of other content (by BLAKE3)."""


def read_local_package(path: Path) -> Package:
    """A `.stone` named on the command line, identified as repositories identify it: by sha256."""
    try:
        with StoneReader(path) as reader:
            reader.expect(FileType.BINARY)
            meta = reader.meta()
    except StoneError as err:
        raise PackageFileError(str(err)) from None
    return Package(id=sha256_file(path), meta=meta, source=LOCAL_SOURCE)


def cache_local_file(installation: Installation, package: Package, path: Path) -> Path:
    """Place a local `.stone` in the download cache under its sha256, as a fetched one would be."""
    target = installation.download_path(package.id)
    if target.exists() and sha256_file(target) == package.id:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f"{target.name}.part")
    try:
        os.link(path, part)
    except OSError:
        shutil.copyfile(path, part)
    if sha256_file(part) != package.id:
        part.unlink()
        raise PackageFileError(f"{path}: changed while it was being installed")
    os.replace(part, target)
    return target


def is_cached(install_db: MetaDb, layout_db: LayoutDb, package_id: str) -> bool:
    return layout_db.has(package_id) and install_db.get(package_id) is not None


class Unpacker:
    """Unpacks packages into the store, up to `workers` at once, and records them.

    With more than one worker, each package's content is unpacked in a forked process of its
    own (`moss_core.processes`): it is a system call or two per file driven from Python, which
    threads of one interpreter could only take turns at. `unpack` may be called from several
    threads. A package's metadata and layout are written to the databases once its content is
    in the store (so no row names a missing file), a batch of packages per transaction, and
    what is still pending when the unpacker closes, even after an error.

    Each asset's BLAKE3 is computed as it is unpacked and recorded with the layouts; a package
    whose file has the XXH3-128 of an asset already known with another BLAKE3 is refused
    (`AssetCollisionError`, naming the package and path) before anything of it is recorded.
    `new_hasher` makes the XXH3-128 hashers that check files (a test injects collisions).
    """

    def __init__(
        self,
        installation: Installation,
        install_db: MetaDb,
        layout_db: LayoutDb,
        *,
        workers: int = 1,
        recorded: dict[str, list[LayoutEntry]] | None = None,
        given_files: Mapping[str, Path] | None = None,
        new_hasher: NewHasher = xxhash.xxh3_128,
    ):
        self._installation = installation
        # Packages the user named by file, by id: errors name that file, not the cached copy.
        self._given_files = given_files or {}
        self._install_db, self._layout_db = install_db, layout_db
        self._new_hasher = new_hasher
        self._pool: ProcessPoolExecutor | None = None
        # With no process to spare (a limit on processes or memory), packages unpack here.
        if workers > 1:
            with contextlib.suppress(OSError):
                self._pool = fork_pool(workers)
        self._pending: list[tuple[str, Meta, list[LayoutEntry]]] = []
        # BLAKE3 of the assets met in this run, and of those still to record.
        self._blake3: dict[int, bytes] = {}
        self._pending_blake3: dict[int, bytes] = {}
        self._pending_lock = threading.Lock()
        self._record_lock = threading.Lock()
        self.recorded: dict[str, list[LayoutEntry]] = {} if recorded is None else recorded
        """The layouts written, by package id, in the order they were written (into the
        caller's `recorded`, if given, after what it holds)."""

    def __enter__(self) -> Unpacker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def unpack(self, package: Package, stone_path: Path) -> Meta:
        """Unpack one package's content into the store, each file verified; returns its Meta."""
        assets = str(self._installation.assets_dir)
        shown = str(self._given_files.get(package.id, stone_path))
        job = (assets, package.name, str(stone_path), shown, self._new_hasher)
        if self._pool is None:
            meta, layout = read_records(package, stone_path, shown)
            found, existed = unpack_content(*job)
        else:
            died = PackageFileError(f"{package.name}: the unpacking process died")
            try:
                content = self._pool.submit(unpack_content, *job)
            except BrokenExecutor:
                raise died from None
            # The records are read here while a worker unpacks the content.
            try:
                meta, layout = read_records(package, stone_path, shown)
            finally:
                try:
                    found, existed = content.result()
                except BrokenExecutor:
                    raise died from None
        known = self._known_blake3(found, existed)
        with self._pending_lock:
            self._refuse_collisions(package, layout, found, known)
            new = {d: b3 for d, b3 in found.items() if d not in self._blake3}
            self._blake3.update(new)
            self._pending_blake3.update(new)
            self._pending.append((package.id, _with_origin(meta, package), layout))
            full = len(self._pending) >= _RECORD_BATCH
        if full:
            # Written while the workers go on; a transaction per package would cost a sync each.
            self._record()
        return meta

    def _known_blake3(self, found: dict[int, bytes], existed: set[int]) -> dict[int, bytes]:
        """What the store already says of the package's assets: recorded BLAKE3s, and for an
        asset a store from before BLAKE3 holds unrecorded, the BLAKE3 of the file there."""
        with self._pending_lock:
            known = {d: self._blake3[d] for d in found if d in self._blake3}
        known.update(self._layout_db.blake3_of(d for d in found if d not in known))
        for digest in existed - known.keys():
            path = self._installation.assets_dir / asset_relpath(digest)
            with contextlib.suppress(FileNotFoundError):
                known[digest] = hash_file(str(path))[1]
        return known

    def _refuse_collisions(
        self,
        package: Package,
        layout: list[LayoutEntry],
        found: dict[int, bytes],
        known: dict[int, bytes],
    ) -> None:
        # What this run met before wins over what was read outside the lock.
        known = {**known, **{d: self._blake3[d] for d in found if d in self._blake3}}
        clashing = conflicts(found, known)
        if clashing:
            digest = clashing[0]
            where = ", ".join(paths_of(digest, layout)) or "a file"
            raise AssetCollisionError(
                f"{package.name}: {where} has the XXH3-128 {digest:032x} of an asset in the "
                "store but other content (BLAKE3 differs): refused as a hash collision"
            )

    def _record(self) -> None:
        with self._record_lock:
            with self._pending_lock:
                batch, self._pending = self._pending, []
                blake3, self._pending_blake3 = self._pending_blake3, {}
            if not batch and not blake3:
                return
            self._install_db.add((package_id, meta) for package_id, meta, _ in batch)
            self._layout_db.add_many(
                ((package_id, layout) for package_id, _, layout in batch), blake3.items()
            )
            for package_id, _, layout in batch:
                self.recorded.pop(package_id, None)
                self.recorded[package_id] = layout

    def close(self) -> None:
        """Stop the workers and record what is left."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._record()


_RECORD_BATCH = 32


# Store directories this process has found or made, by assets directory: a cold install
# reaches most of the store's shard directories from many packages.
_KNOWN_DIRS: dict[str, set[str]] = {}


def read_records(
    package: Package, stone_path: Path, shown: str | None = None
) -> tuple[Meta, list[LayoutEntry]]:
    """The package's metadata and layout; refused if the layout names content it lacks.
    Errors name the file as `shown` (the file the user gave), else by its path."""
    try:
        with StoneReader(stone_path, name=shown) as reader:
            reader.expect(FileType.BINARY)
            meta, layout = reader.meta(), reader.layout()
            held = {entry.digest for entry in reader.index()}
    except StoneError as err:
        raise PackageFileError(f"{package.name}: {err}") from None
    for entry in layout:
        if entry.kind is FileKind.REGULAR and entry.digest not in held:
            # Its blit would fail, or link whatever another package put in the store.
            raise PackageFileError(
                f"{package.name}: its layout names /usr/{entry.path} with content"
                f" {entry.digest:032x}, which the package does not contain"
            )
    return meta, layout


def unpack_content(
    assets_dir: str,
    name: str,
    stone_path: str,
    shown: str,
    new_hasher: NewHasher = xxhash.xxh3_128,
) -> tuple[dict[int, bytes], set[int]]:
    """Unpack one `.stone`'s content into the store, in this thread (or worker process);
    errors name the file as `shown`.

    Returns each file's BLAKE3 by digest, and the digests whose asset was already there
    (their files were checked, not written).
    """
    assets_fd = os.open(assets_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sink = DirectorySink(
            assets_fd,
            name_for=asset_relpath,
            skip_existing=True,
            file_mode=ASSET_MODE,
            workers=0,
            known_dirs=_KNOWN_DIRS.setdefault(assets_dir, set()),
        )
        with (
            StoneReader(stone_path, name=shown) as reader,
            sink,
            Blake3Sink(sink, threaded=usable_cores() > 1) as hashing,
        ):
            reader.expect(FileType.BINARY)
            reader.unpack_content(hashing, new_hasher=new_hasher)
        return hashing.found, sink.skipped
    except StoneError as err:
        raise PackageFileError(f"{name}: {err}") from None
    except OSError as err:
        where = err.filename or assets_dir
        raise PackageFileError(f"{name}: unpacking into {where}: {err.strerror}") from None
    finally:
        os.close(assets_fd)


def _with_origin(meta: Meta, package: Package) -> Meta:
    # Repository metadata carries the uri/hash/size of the download; keep them with the install.
    return replace(
        meta,
        uri=package.meta.uri,
        hash=package.meta.hash or package.id,
        download_size=package.meta.download_size,
    )

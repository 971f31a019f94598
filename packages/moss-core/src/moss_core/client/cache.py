"""Getting packages into the store: their `.stone` in the download cache, content in the
assets, metadata and layout in the databases (in that order, so no row names a missing file)."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from moss_core.db import LayoutDb, MetaDb
from moss_core.errors import MossError
from moss_core.fs import sha256_file
from moss_core.installation import Installation
from moss_core.registry import Package
from moss_core.store import ASSET_MODE, asset_relpath
from stone import DirectorySink, FileType, Meta, StoneError, StoneReader


class PackageFileError(MossError):
    """A `.stone` given or fetched is not a usable binary package."""


def read_local_package(path: Path) -> Package:
    """A `.stone` named on the command line, identified as repositories identify it: by sha256."""
    try:
        with StoneReader(path) as reader:
            reader.expect(FileType.BINARY)
            meta = reader.meta()
    except StoneError as err:
        raise PackageFileError(str(err)) from None
    return Package(id=sha256_file(path), meta=meta, source="local")


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


def unpack(
    installation: Installation,
    install_db: MetaDb,
    layout_db: LayoutDb,
    package: Package,
    stone_path: Path,
) -> Meta:
    """Unpack one package: content into the store (each file verified), then its records."""
    assets_fd = os.open(installation.assets_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with StoneReader(stone_path) as reader:
            reader.expect(FileType.BINARY)
            meta = reader.meta()
            layout = reader.layout()
            with DirectorySink(
                assets_fd, name_for=asset_relpath, skip_existing=True, file_mode=ASSET_MODE
            ) as sink:
                reader.unpack_content(sink)
    except StoneError as err:
        raise PackageFileError(f"{package.name}: {err}") from None
    except OSError as err:
        where = err.filename or installation.assets_dir
        raise PackageFileError(f"{package.name}: unpacking into {where}: {err.strerror}") from None
    finally:
        os.close(assets_fd)
    install_db.add([(package.id, _with_origin(meta, package))])
    layout_db.add(package.id, layout)
    return meta


def _with_origin(meta: Meta, package: Package) -> Meta:
    # Repository metadata carries the uri/hash/size of the download; keep them with the install.
    return replace(
        meta,
        uri=package.meta.uri,
        hash=package.meta.hash or package.id,
        download_size=package.meta.download_size,
    )

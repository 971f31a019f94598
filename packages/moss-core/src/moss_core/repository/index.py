"""`moss index`: a repository index (`stone.index`) describing a directory of packages."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from moss_core.fs import sha256_file
from moss_core.repository._model import RepositoryError
from stone import FileType, Meta, StoneError, StoneReader, write_index

INDEX_NAME = "stone.index"


def build_index(
    directory: Path,
    output: Path | None = None,
    *,
    on_file: Callable[[Path], None] | None = None,
) -> list[Meta]:
    """Index every `*.stone` below `directory` into `<output>/stone.index` (`output` is a
    directory, `directory` itself by default) and return the metas written, sorted by name.

    Each name keeps its highest source release; two files of one name and release are an
    error. Package URIs are relative to `output`, which must therefore contain the packages:
    clients refuse URIs that leave the index's directory. `on_file` sees each package read.
    """
    directory = Path(directory).absolute()
    out_dir = directory if output is None else Path(output).absolute()
    if not directory.is_dir():
        raise RepositoryError(f"{directory}: not a directory")
    if not out_dir.is_dir():
        raise RepositoryError(f"{out_dir}: not a directory")
    best: dict[str, Meta] = {}
    seen: dict[tuple[str, int], str] = {}
    for path in _stones(directory):
        relative = Path(os.path.relpath(path, out_dir)).as_posix()
        if relative.startswith("../"):
            raise RepositoryError(
                f"{path}: outside the index directory {out_dir}; clients refuse package URIs "
                "that leave it"
            )
        meta = _package_meta(path)
        other = seen.setdefault((meta.name, meta.release), relative)
        if other != relative:
            raise RepositoryError(
                f"package {meta.name} has two files with the same release {meta.release}: "
                f"{other} and {relative}"
            )
        size, sha256 = _digest(path)
        entry = replace(meta, uri=relative, hash=sha256, download_size=size)
        current = best.get(meta.name)
        if current is None or meta.release > current.release:
            best[meta.name] = entry
        if on_file is not None:
            on_file(path)
    metas = sorted(best.values(), key=lambda meta: meta.name)
    _write(out_dir / INDEX_NAME, metas)
    return metas


def _stones(directory: Path) -> list[Path]:
    found: list[Path] = []
    for parent, dirs, files in os.walk(directory, onerror=_walk_error):
        dirs.sort()
        found += (Path(parent, name) for name in sorted(files) if name.endswith(".stone"))
    return found


def _walk_error(err: OSError) -> None:
    raise RepositoryError(f"{err.filename}: {err.strerror}")


def _package_meta(path: Path) -> Meta:
    try:
        with StoneReader(path) as reader:
            reader.expect(FileType.BINARY)
            return reader.meta()
    except StoneError as err:
        raise RepositoryError(str(err)) from None


def _digest(path: Path) -> tuple[int, str]:
    try:
        return path.stat().st_size, sha256_file(path)
    except OSError as err:
        raise RepositoryError(f"{path}: {err.strerror}") from None


def _write(path: Path, metas: list[Meta]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as out:
            write_index(out, metas)
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise RepositoryError(f"{err.filename or path}: {err.strerror}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

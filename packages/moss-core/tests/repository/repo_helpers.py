"""Packages, indexes and scratch roots for the repository tests."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import xxhash

from moss_core.installation import Installation
from stone import BytesBlob, Dependency, LayoutEntry, Meta, Provider, write_binary, write_index


def make_stone(
    directory: Path,
    name: str,
    *,
    version: str = "1.0",
    release: int = 1,
    build_release: int = 1,
    provides: Sequence[str] = (),
    depends: Sequence[str] = (),
    filename: str | None = None,
) -> Path:
    """A binary package with one file, written to `directory` under its boulder name."""
    content = f"{name} {version}-{release}-{build_release}\n".encode()
    digest = xxhash.xxh3_128_intdigest(content)
    meta = Meta(
        name=name,
        version=version,
        release=release,
        build_release=build_release,
        architecture="x86_64",
        summary=f"The {name} package",
        description=f"{name}, for tests",
        source_id=name,
        homepage="https://example.org",
        licenses=("MPL-2.0",),
        depends=tuple(Dependency.parse(d) for d in depends),
        provides=tuple(Provider.parse(p) for p in provides),
    )
    layout = [LayoutEntry.directory("share"), LayoutEntry.regular(f"share/{name}", digest)]
    out = io.BytesIO()
    write_binary(out, meta, layout, {digest: BytesBlob(content)})
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (filename or meta.filename)
    path.write_bytes(out.getvalue())
    return path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_raw_index(path: Path, metas: Sequence[Meta]) -> None:
    """An index with exactly these entries, bypassing `build_index`'s checks."""
    out = io.BytesIO()
    write_index(out, metas)
    path.write_bytes(out.getvalue())


def scratch_root(base: Path) -> Installation:
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    return Installation.open(root)

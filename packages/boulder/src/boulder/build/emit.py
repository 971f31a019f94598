"""Package metadata (pure) and the files a build emits: `.stone` packages and manifests (§3.10)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from boulder.build.analysis import Bucket
from boulder.build.collect import InstalledPath
from boulder.errors import BuildError
from boulder.packages import ResolvedPackage
from boulder.recipe.model import Recipe
from stone import (
    Blob,
    Dependency,
    FileBlob,
    FileKind,
    LayoutEntry,
    Meta,
    Provider,
    StoneError,
    StoneReader,
    file_digest,
    manifest_report,
    write_binary,
    write_manifest,
)

_SPECIAL = {
    stat.S_IFCHR: FileKind.CHARACTER_DEVICE,
    stat.S_IFBLK: FileKind.BLOCK_DEVICE,
    stat.S_IFIFO: FileKind.FIFO,
    stat.S_IFSOCK: FileKind.SOCKET,
}


def _excluded(text: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        try:
            if re.search(pattern, text):
                return True
        except re.error:
            # An invalid exclusion is ignored, as upstream does.
            continue
    return False


def _relation(text: str, cls: type[Dependency] | type[Provider], package: str) -> Any:
    try:
        return cls.parse(text)
    except ValueError as err:
        raise BuildError(f"invalid relation {text!r}: {err}", key=f"package {package}") from err


def package_depends(
    package: ResolvedPackage, found: Iterable[str], own_provides: Iterable[str]
) -> tuple[Dependency, ...]:
    """Analysis depends that the package does not satisfy itself, plus its rundeps, minus
    anything a `rundeps-exclude` pattern finds."""
    own = set(own_provides) | {package.name}
    texts = [t for t in found if t not in own] + list(package.rundeps)
    deps = {_relation(t, Dependency, package.name) for t in texts}
    return tuple(sorted(d for d in deps if not _excluded(d.plain_text, package.rundeps_exclude)))


def package_provides(package: ResolvedPackage, found: Iterable[str]) -> tuple[Provider, ...]:
    kept = {t for t in found if not _excluded(t, package.provides_exclude)}
    return tuple(sorted(_relation(t, Provider, package.name) for t in kept))


def build_depends(recipe: Recipe) -> tuple[Dependency, ...]:
    names = set(recipe.builddeps) | set(recipe.checkdeps)
    return tuple(sorted(_relation(n, Dependency, recipe.name) for n in names))


def package_meta(
    recipe: Recipe,
    package: ResolvedPackage,
    bucket: Bucket,
    *,
    build_release: int,
    architecture: str,
) -> Meta:
    return Meta(
        name=package.name,
        version=recipe.version,
        release=recipe.release,
        build_release=build_release,
        architecture=architecture,
        summary=package.summary or "",
        description=package.description or "",
        source_id=recipe.name,
        homepage=recipe.homepage,
        licenses=tuple(recipe.license),
        depends=package_depends(package, bucket.depends, bucket.provides),
        provides=package_provides(package, bucket.provides),
        conflicts=tuple(_relation(c, Provider, package.name) for c in package.conflicts),
        build_depends=build_depends(recipe),
    )


def layout_entry(item: InstalledPath) -> tuple[LayoutEntry, Blob | None]:
    """The layout record of a collected path (relative to `/usr`, owned by root) and, for a
    regular file, its content. Read now: analysis may have rewritten the file."""
    path = item.path.removeprefix("/usr/")
    info = os.lstat(item.host)
    kind = stat.S_IFMT(info.st_mode)
    if kind == stat.S_IFREG:
        digest = file_digest(str(item.host))
        return LayoutEntry.regular(path, digest, info.st_mode), FileBlob(
            str(item.host), info.st_size
        )
    if kind == stat.S_IFLNK:
        return LayoutEntry.symlink(path, os.readlink(item.host)), None
    if kind == stat.S_IFDIR:
        return LayoutEntry.directory(path, info.st_mode), None
    return LayoutEntry(path, _SPECIAL[kind], info.st_mode), None


@dataclass(frozen=True, slots=True)
class Emitted:
    meta: Meta
    file: Path
    files: tuple[str, ...]
    """`/usr/...` paths of the package, directories included."""


def write_package(out_dir: Path, meta: Meta, paths: Sequence[InstalledPath]) -> Emitted:
    layout: list[LayoutEntry] = []
    blobs: dict[int, Blob] = {}
    for item in paths:
        entry, blob = layout_entry(item)
        layout.append(entry)
        if blob is not None and entry.digest is not None:
            blobs.setdefault(entry.digest, blob)
    target = out_dir / meta.filename
    partial = target.with_name(target.name + ".part")
    # The artefacts directory is writable in the container: never write through what the
    # build may have left at these names.
    partial.unlink(missing_ok=True)
    with open(partial, "xb") as out:
        write_binary(out, meta, layout, blobs)
    partial.replace(target)
    return Emitted(meta, target, tuple(sorted(f"/usr/{e.path}" for e in layout)))


def manifest_packages(emitted: Sequence[Emitted]) -> list[Emitted]:
    """Debug packages are left out of the manifests."""
    return [e for e in emitted if not e.meta.name.endswith("-dbginfo")]


def manifest_json(emitted: Sequence[Emitted]) -> str:
    """The human-readable report: a comment line, then tab-indented JSON, keys sorted."""
    report = manifest_report([e.meta for e in emitted])
    files: Mapping[str, tuple[str, ...]] = {e.meta.name: e.files for e in emitted}
    for name, entry in report["packages"].items():
        if files[name]:
            entry["files"] = list(files[name])
    body = json.dumps(report, indent="\t", sort_keys=True, ensure_ascii=False)
    return f"/** Human readable report. This is not consumed by boulder */\n{body}\n"


def manifest_bytes(emitted: Sequence[Emitted]) -> bytes:
    out = io.BytesIO()
    write_manifest(out, [e.meta for e in manifest_packages(emitted)])
    return out.getvalue()


def _comparable(meta: Meta) -> Meta:
    # Manifests store build release 0, and readers need not keep the writer's record order.
    return replace(
        meta,
        build_release=0,
        licenses=tuple(sorted(meta.licenses)),
        depends=tuple(sorted(set(meta.depends))),
        provides=tuple(sorted(set(meta.provides))),
        conflicts=tuple(sorted(set(meta.conflicts))),
        build_depends=tuple(sorted(set(meta.build_depends))),
    )


def manifest_matches(expected: Path, emitted: Sequence[Emitted]) -> bool:
    """Whether a binary manifest describes these packages: the same bytes, or failing that
    the same metadata package by package."""
    built = manifest_bytes(emitted)
    try:
        given = expected.read_bytes()
    except OSError as err:
        raise BuildError(f'cannot read verification manifest "{expected}": {err}') from err
    if hashlib.sha256(given).digest() == hashlib.sha256(built).digest():
        return True
    try:
        with StoneReader(io.BytesIO(given), name=str(expected)) as reader:
            theirs = {m.name: _comparable(m) for m in reader.metas()}
    except StoneError:
        return False
    ours = {e.meta.name: _comparable(e.meta) for e in manifest_packages(emitted)}
    return theirs == ours


def write_manifests(out_dir: Path, emitted: Sequence[Emitted], architecture: str) -> list[Path]:
    kept = manifest_packages(emitted)
    if not kept:
        return []
    binary = out_dir / f"manifest.{architecture}.bin"
    binary.write_bytes(manifest_bytes(kept))
    report = out_dir / f"manifest.{architecture}.jsonc"
    report.write_text(manifest_json(kept), encoding="utf-8")
    return [binary, report]

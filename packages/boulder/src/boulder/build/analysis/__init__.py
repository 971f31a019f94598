"""The analysis chain (spec §3.9): each collected path is decided by the first handler that
decides; handlers add provides and depends to the path's package and may queue new paths (the
split debug files)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from boulder.build.analysis.binary import binary_provides
from boulder.build.analysis.cmake import cmake_provides
from boulder.build.analysis.compressman import compress, compressible
from boulder.build.analysis.elf import (
    BinUtils,
    debug_path,
    elf_relations,
    read_elf,
    split_and_strip,
)
from boulder.build.analysis.pkgconfig import is_pkgconfig, pkgconfig_depends, pkgconfig_provides
from boulder.build.analysis.python import is_metadata, python_relations, read_metadata
from boulder.build.collect import InstalledPath, package_for
from boulder.packages import CollectionRule


@dataclass
class Bucket:
    """What one package gets: its paths in analysis order and the relations found in them."""

    paths: list[InstalledPath] = field(default_factory=list)
    provides: set[str] = field(default_factory=set)
    depends: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    strip: bool = True
    debug: bool = True
    lastrip: bool = True
    compressman: bool = False
    tools: BinUtils = field(default_factory=BinUtils)


def _under(path: str, directory: str) -> bool:
    parts = PurePosixPath(directory).parts
    return PurePosixPath(path).parts[: len(parts)] == parts


def ignore_reason(path: str, *, lastrip: bool) -> str | None:
    """Why a collected path is left out of every package, if it is."""
    if not _under(path, "/usr"):
        return "non /usr/ file"
    if (
        lastrip
        and path.endswith(".la")
        and (_under(path, "/usr/lib") or _under(path, "/usr/lib32"))
    ):
        return "libtool file"
    return None


@dataclass
class Analyser:
    """Runs the chain over the install root's paths (imperative: reads, strips, splits)."""

    install_root: Path
    rules: Sequence[CollectionRule]
    options: AnalysisOptions
    root_exists: Callable[[str], bool]
    """Whether a container path exists in the build root (not the install root)."""
    pkgconfig_dirs: Sequence[Path]
    """Directories of the build root holding `.pc` files, as host paths."""
    log: Callable[[str], None]
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def host(self, path: str) -> Path:
        return self.install_root / path.lstrip("/")

    def _writable(self, path: str) -> Path | None:
        """The host path to create `path` at, unless a symlink the build made on the way
        would send the write elsewhere (possibly outside the install root)."""
        current = self.install_root
        for part in PurePosixPath(path).parts[1:-1]:
            current = current / part
            if current.is_symlink():
                self.log(f"× {path} (not written: {current.name} is a symlink)")
                return None
        return self.host(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.host(path)) or self.root_exists(path)

    def run(self, paths: Sequence[InstalledPath]) -> dict[str, Bucket]:
        queue = deque(paths)
        while queue:
            item = queue.popleft()
            package = package_for(self.rules, item.path)
            if package is None:
                continue
            bucket = self.buckets.setdefault(package, Bucket())
            reason = ignore_reason(item.path, lastrip=self.options.lastrip)
            if reason is not None:
                self.log(f"× {item.path} ({reason})")
                continue
            bucket.provides.update(binary_provides(item.path))
            if item.is_file:
                queue.extend(self._file(item, bucket))
            if self.options.compressman and compressible(item.path) and not item.is_dir:
                compressed = compress(item)
                self.log(f"^ {item.path} » {compressed.path}")
                item = compressed
            bucket.paths.append(item)
            self.log(f"» {item.path}")
        return self.buckets

    def _file(self, item: InstalledPath, bucket: Bucket) -> list[InstalledPath]:
        """Relations of a regular file; returns generated paths to analyse next."""
        path = item.path
        split_debug = path.endswith(".debug") and "debug" in PurePosixPath(path).parts[:-1]
        facts = None if split_debug else read_elf(item.host)
        if facts is not None:
            provides, depends = elf_relations(path, facts, self.exists)
            bucket.provides.update(provides)
            bucket.depends.update(depends)
            debug = debug_path(facts)
            debug_host = None if debug is None else self._writable(debug)
            written = split_and_strip(
                item.host, debug_host, debug=self.options.debug, strip=self.options.strip,
                path=path, tools=self.options.tools, log=self.log,
            )  # fmt: skip
            if written and debug is not None and debug_host is not None:
                return [InstalledPath(debug, debug_host, os.lstat(debug_host).st_mode)]
            return []
        if is_pkgconfig(path):
            bucket.provides.update(pkgconfig_provides(path))
            own = [
                self.install_root / "usr/lib/pkgconfig",
                self.install_root / "usr/share/pkgconfig",
            ]
            lib32 = [self.install_root / "usr/lib32/pkgconfig"]
            lib32 += [d for d in self.pkgconfig_dirs if "lib32" in d.parts]
            found = pkgconfig_depends(path, item.host, [*own, *self.pkgconfig_dirs], lib32)
            bucket.depends.update(found)
        elif is_metadata(path):
            provides, depends = python_relations(read_metadata(item.host))
            bucket.provides.update(provides)
            bucket.depends.update(depends)
        else:
            bucket.provides.update(cmake_provides(path))
        return []

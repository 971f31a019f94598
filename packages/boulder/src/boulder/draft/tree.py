"""What drafting knows of an unpacked source: every path in it, and the text of the few files
the detectors read (build files at the top, licence files)."""

from __future__ import annotations

import configparser
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

BUILD_FILES = frozenset(
    {
        "configure.ac",
        "configure.in",
        "meson.build",
        "CMakeLists.txt",
        "pyproject.toml",
        "setup.cfg",
        "Cargo.toml",
    }
)
_LICENSE_STEMS = ("license", "licence", "copying", "copyright", "unlicense")
_MAX_TEXT = 1 << 20
_MAX_PATHS = 200_000


@dataclass(frozen=True)
class SourceTree:
    """`paths`: every file below the project's top directory, relative, `/`-separated.
    `texts`: the contents of the files the detectors read, by the same relative path."""

    paths: frozenset[str]
    texts: Mapping[str, str] = field(default_factory=dict)

    def top(self, name: str) -> str | None:
        return self.texts.get(name)

    def top_names(self) -> frozenset[str]:
        return frozenset(p for p in self.paths if "/" not in p)

    def toml(self, name: str) -> dict[str, Any]:
        """A TOML file's table; empty when absent or not valid TOML."""
        text = self.texts.get(name)
        if text is None:
            return {}
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return {}

    def ini(self, name: str) -> configparser.ConfigParser | None:
        text = self.texts.get(name)
        if text is None:
            return None
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            return None
        return parser


def is_license_file(relative: str) -> bool:
    """A licence file at the top (`COPYING`, `LICENSE.md`, `LICENSE-MIT`…) or a REUSE
    `LICENSES/<id>.txt`."""
    parts = PurePosixPath(relative).parts
    if len(parts) == 2 and parts[0] == "LICENSES":
        return True
    if len(parts) != 1:
        return False
    lowered = parts[0].lower()
    return lowered.startswith(_LICENSE_STEMS) and not lowered.endswith((".py", ".sh", ".in"))


def read_tree(root: Path) -> SourceTree:
    """Walk `root` (symlinks not followed) and read the files drafting looks at, undecodable
    bytes replaced; a symlink or a file over 1 MiB is left unread. At most 200,000 paths."""
    paths: set[str] = set()
    texts: dict[str, str] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        base = Path(directory)
        for name in files:
            relative = (base / name).relative_to(root).as_posix()
            paths.add(relative)
            if len(paths) >= _MAX_PATHS:
                return SourceTree(frozenset(paths), texts)
            if relative in BUILD_FILES or is_license_file(relative):
                text = _read_text(base / name)
                if text is not None:
                    texts[relative] = text
    return SourceTree(frozenset(paths), texts)


def _read_text(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_TEXT:
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None

"""Which files the install root holds and which package each goes to (spec §3.8).

Globs follow the semantics of the Rust `glob` crate with default options, as upstream's
collection rules do: `*` also matches `/`, `**` is only special as a whole path component,
and a malformed pattern matches nothing.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from boulder.packages import CollectionRule

_DEFAULT_DIRECTORY_MODE = stat.S_IFDIR | 0o755


class _InvalidGlob(Exception):
    pass


def _char_class(glob: str, start: int) -> tuple[str, int]:
    """The regex of the `[...]` class opening at `start`, and the index after it."""
    i = start + 1
    negate = i < len(glob) and glob[i] == "!"
    if negate:
        i += 1
    members: list[str] = []
    first = True
    while i < len(glob) and (glob[i] != "]" or first):
        # A `]` right after `[` or `[!` is a member, not the end.
        if i + 2 < len(glob) and glob[i + 1] == "-" and glob[i + 2] != "]":
            members.append(f"{re.escape(glob[i])}-{re.escape(glob[i + 2])}")
            i += 3
        else:
            members.append(re.escape(glob[i]))
            i += 1
        first = False
    if i >= len(glob):
        raise _InvalidGlob(glob)
    return f"[{'^' if negate else ''}{''.join(members)}]", i + 1


def _translate(glob: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**", i):
            before_ok = i == 0 or glob[i - 1] == "/"
            after = i + 2
            if not before_ok or (after < len(glob) and glob[after] != "/"):
                raise _InvalidGlob(glob)
            if after == len(glob):
                out.append(".*")
                i = after
            else:
                # `**/` is zero or more whole directories.
                out.append("(?:.*/)?")
                i = after + 1
        elif char == "*":
            out.append(".*")
            i += 1
        elif char == "?":
            out.append(".")
            i += 1
        elif char == "[":
            text, i = _char_class(glob, i)
            out.append(text)
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def compile_glob(glob: str) -> re.Pattern[str] | None:
    """The anchored regex of a glob, or None when the glob is malformed (it matches nothing)."""
    try:
        return re.compile(_translate(glob), re.DOTALL)
    except (_InvalidGlob, re.error):
        return None


def glob_matches(glob: str, path: str) -> bool:
    pattern = compile_glob(glob)
    return pattern is not None and pattern.fullmatch(path) is not None


def rule_matches(glob: str, path: str) -> bool:
    """A rule takes the path itself, anything its glob matches, and everything below those."""
    if glob == path or glob_matches(glob, path):
        return True
    return glob_matches(glob.rstrip("/") + "/**", path)


def package_for(rules: Sequence[CollectionRule], path: str) -> str | None:
    """The package of the last-added rule that takes `path`."""
    for rule in reversed(rules):
        if rule_matches(rule.glob, path):
            return rule.package
    return None


@dataclass(frozen=True, slots=True)
class InstalledPath:
    """A path of the install root, as the container saw it (`/usr/bin/x`), and where it is."""

    path: str
    host: Path
    mode: int
    link_target: str | None = None

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)


def walk_install_root(root: Path) -> Iterator[InstalledPath]:
    """Depth-first, names sorted, symlinks not followed; a directory comes after its children
    and only when it is empty or has a mode other than 0755 (the rest are implicit)."""
    yield from _walk(root, "")


def _walk(directory: Path, prefix: str) -> Iterator[InstalledPath]:
    for name in sorted(os.listdir(directory)):
        host = directory / name
        path = f"{prefix}/{name}"
        info = os.lstat(host)
        if stat.S_ISDIR(info.st_mode):
            children = list(_walk(host, path))
            yield from children
            if not children or info.st_mode != _DEFAULT_DIRECTORY_MODE:
                yield InstalledPath(path, host, info.st_mode)
        elif stat.S_ISLNK(info.st_mode):
            yield InstalledPath(path, host, info.st_mode, os.readlink(host))
        else:
            yield InstalledPath(path, host, info.st_mode)

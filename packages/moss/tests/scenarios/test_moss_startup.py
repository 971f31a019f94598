"""A command loads only what it runs: a read-only one neither the HTTP stack nor pydantic nor
the VFS, a one-package change nothing of fetching, trigger files or boot management when it
needs none of them, so start-up stays fast (the time itself is measured by `make bench`, not
here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from moss_core.repository import build_index

from .helpers import MossRun, make_stone

HEAVY = (
    "aiohttp",
    "pydantic",
    "ruamel",
    "rich",
    "moss_core.vfs",
    "moss_core.blit",
    "moss_core.fetch",
)
# What only a download or refresh (the HTTP stack, limits, signatures), trigger files (YAML and
# pydantic models, the container handlers run in) and a root with boot management (the boot
# planner) need.
CHANGE_HEAVY = (
    "aiohttp",
    "asyncio",
    "http.client",
    "urllib.request",
    "ruamel",
    "pydantic",
    "moss_core.container.isolated",
    "moss_core.container.setup",
    "moss_core.triggers.run",
    "moss_core.fetch",
    "moss_core.repository.http",
    "moss_core.repository.limits",
    "moss_core.repository.signed",
    "moss_core.boot.fs",
    "moss_core.boot.plan",
    "moss_core.boot.targets",
    "moss_core.boot.topology",
)


def _imported(root: Path, *args: str) -> set[str]:
    """The modules `moss -D root ARGS` imports, as `-X importtime` names them."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "moss", "-D", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}


def test_list_installed_imports_nothing_heavy(root: Path, packages: Path, moss: MossRun) -> None:
    assert moss("install", str(make_stone(packages, "c"))).code == 0
    imported = _imported(root, "list", "installed")
    loaded = sorted(name for name in imported if name.startswith(HEAVY))
    assert loaded == []


def test_one_package_change_imports_nothing_it_does_not_run(
    root: Path, packages: Path, moss: MossRun
) -> None:
    """A repository whose index is held needs no fetch; the packages are in the cache."""
    for name in ("a", "b"):
        make_stone(packages, name, {f"share/{name}/file": name})
    build_index(packages)
    assert moss("repo", "add", "r", f"file://{packages}/stone.index").code == 0
    assert moss("install", "a", "b").code == 0
    for command in (("remove", "b"), ("install", "b")):
        imported = _imported(root, "-y", *command)
        assert "moss_core.client.core" in imported
        loaded = sorted(name for name in imported if name.startswith(CHANGE_HEAVY))
        assert (command, loaded) == (command, [])
    assert (root / "usr/share/b/file").read_text() == "b"

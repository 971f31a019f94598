"""A read-only command loads neither the HTTP stack nor pydantic nor the VFS: start-up stays
fast (the time itself is measured by `make bench`, not here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_list_installed_imports_nothing_heavy(root: Path, packages: Path, moss: MossRun) -> None:
    assert moss("install", str(make_stone(packages, "c"))).code == 0
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "moss", "-D", str(root), "list", "installed"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.startswith("c  1.0-1")
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    loaded = sorted(name for name in imported if name.startswith(HEAVY))
    assert loaded == []

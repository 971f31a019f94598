"""Real boulder on the host profile through `summit build`: the examples' C library `greet`
(no committed manifest), then `welcome`, which needs its `pkgconfig(greet)` and links libgreet
through pkg-config. summit learns the provider from greet's published packages, orders the
builds, and boulder lays greet's published packages over the host's `/usr` for welcome's build;
moss then reads the published root index, and the published welcome runs against libgreet."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from moss_core.container import namespaces_available

from .conftest import run_group

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
def host_builds() -> None:
    tools = ("gcc", "make", "objcopy", "objdump", "strip", "pkg-config")
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the host profile builds with the host's tools; missing: {missing}")
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"containers are not available here: {reason}")


def _published(out: Path, name: str) -> Path:
    (stone,) = (out / "main" / "pool").glob(f"*/*/{name}-[0-9]*.stone")
    return stone


@pytest.mark.usefixtures("host_builds")
def test_a_program_links_the_library_published_earlier_in_the_run(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    for name in ("greet", "welcome"):
        shutil.copytree(EXAMPLES / name, recipes / name[0] / name)
    out = tmp_path / "repo"
    result = run_group([
        sys.executable, "-m", "summit", "build", str(recipes), "--repo", str(out),
        "--workers", "2",
    ])  # fmt: skip
    logs = "".join(p.read_text() for p in (out / ".summit" / "logs").glob("*.log"))
    assert result.returncode == 0, result.stdout + result.stderr + logs
    with sqlite3.connect(out / ".summit" / "state.db") as db:
        started = dict(db.execute("SELECT name, started FROM task"))
        ended = dict(db.execute("SELECT name, ended FROM task"))
        providers = "".join(r[0] for r in db.execute("SELECT providers FROM output"))
    assert ended["greet"] <= started["welcome"]
    assert "pkgconfig(greet)" in providers
    assert "Laying over the host's /usr, from the extra repositories: pkgconfig(greet)" in logs
    assert not Path("/usr/include/greet.h").exists()
    # Each build had a boulder cache of its own, gone once it ended.
    caches = [Path(c) for c in re.findall(r"^Build log: (/\S+)/logs/\S+\.log$", logs, re.M)]
    assert sorted(c.name.rsplit("-", 1)[0] for c in caches) == [
        "summit-greet-a1", "summit-welcome-a1",
    ]  # fmt: skip
    assert not any(c.exists() for c in caches)

    # The published program, unpacked beside the published library, runs against it.
    unpacked = tmp_path / "unpacked"
    for name in ("welcome", "greet-libs"):
        subprocess.run(
            [sys.executable, "-m", "stone", "extract", str(_published(out, name)), str(unpacked)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    ran = subprocess.run(
        [str(unpacked / "bin" / "welcome"), "summit"], capture_output=True, text=True,
        env={**os.environ, "LD_LIBRARY_PATH": str(unpacked / "lib")}, timeout=30, check=False,
    )  # fmt: skip
    assert (ran.returncode, ran.stdout) == (0, "Greetings, summit!\n"), ran.stderr
    needed = subprocess.run(
        ["objdump", "-p", str(unpacked / "bin" / "welcome")], capture_output=True, text=True,
        timeout=30, check=True,
    ).stdout  # fmt: skip
    assert "NEEDED               libgreet.so.1" in needed

    root = tmp_path / "root"
    root.mkdir()
    added = subprocess.run(
        [sys.executable, "-m", "moss", "-D", str(root), "repo", "add", "summit",
         f"file://{out}", "--root-index", "version=stream/volatile"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "summit added (" in added.stdout

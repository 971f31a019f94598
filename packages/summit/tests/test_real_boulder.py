"""Real boulder on the host profile through `summit build`: the examples' C library `greet`
(no committed manifest), then a recipe needing its `pkgconfig(greet)`, which summit only
learns from greet's published packages; moss then reads the published root index."""

from __future__ import annotations

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

USER = """\
name: greet-user
version: 1.0
release: 1
homepage: https://example.com/greet-user
license: MIT
toolchain: gnu
builddeps:
  - pkgconfig(greet)
build: |
  printf 'int main(void) { return 0; }\\n' > user.c
  %(cc) %(cflags) %(ldflags) -o greet-user user.c
install: |
  %install_bin greet-user
"""


@pytest.fixture
def host_builds() -> None:
    missing = [t for t in ("gcc", "make", "objcopy", "strip") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the host profile builds with the host's tools; missing: {missing}")
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"containers are not available here: {reason}")


@pytest.mark.usefixtures("host_builds")
def test_real_builds_in_learnt_order_and_moss_reads_the_repository(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    shutil.copytree(EXAMPLES / "greet", recipes / "g" / "greet")
    (recipes / "g" / "greet-user").mkdir()
    (recipes / "g" / "greet-user" / "stone.yaml").write_text(USER)
    out = tmp_path / "repo"
    result = run_group([
        sys.executable, "-m", "summit", "build", str(recipes), "--repo", str(out),
        "--workers", "2",
    ])  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite3.connect(out / ".summit" / "state.db") as db:
        times = dict(db.execute("SELECT name, started FROM task"))
        ended = dict(db.execute("SELECT name, ended FROM task"))
        providers = "".join(r[0] for r in db.execute("SELECT providers FROM output"))
    assert ended["greet"] <= times["greet-user"]
    assert "pkgconfig(greet)" in providers

    root = tmp_path / "root"
    root.mkdir()
    added = subprocess.run(
        [sys.executable, "-m", "moss", "-D", str(root), "repo", "add", "summit",
         f"file://{out}", "--root-index", "version=stream/volatile"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "summit added (" in added.stdout

"""A hostile build script, run by root: it must not reach the host (docs/container.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import hostile
import pytest

from boulder.build import BuildOptions, build
from boulder.macros.load import MacroSet

from .conftest import Project

HEAD = "name: foo\nversion: 1.0\nrelease: 1\nhomepage: h\nlicense: MIT\n"

pytestmark = [
    pytest.mark.usefixtures("containers"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the attacks that matter are those made as root"),
]


def test_a_hostile_build_run_by_root_cannot_reach_the_host(
    foo_project: Callable[..., Project], macros: MacroSet, tmp_path: Path
) -> None:
    major, minor = hostile.host_disk()
    # The host's own /usr, bound read-only, and the recipe directory.
    read_only = ["/usr", "/mason/recipe"]
    attack = f"/mason/recipe/attack /tmp/results {major} {minor} /mason/build {' '.join(read_only)}"
    script = (
        f"build: |\n  {attack}\n  sed 's/^/attack: /' /tmp/results\n"
        "install: |\n  mkdir -p %(installroot)/usr/share/doc\n"
        "  echo built > %(installroot)/usr/share/doc/foo\n"
    )
    project = foo_project(recipe=HEAD + script)
    hostile.build_attacker(project.recipe.parent)
    lines: list[str] = []
    options = BuildOptions(
        output=project.output, cache_dir=project.cache, jobs=1, source_date_epoch=1700000000,
        out=lines.append,
    )  # fmt: skip
    host_file = Path("/usr/pwned")
    assert not host_file.exists()
    try:
        build(project.recipe, macros, options)
    finally:
        written_to_host = host_file.exists()
        # Only a regression writes it; it must not outlive the failing test.
        host_file.unlink(missing_ok=True)
    assert not written_to_host
    output = [line.removeprefix("│B│ ") for line in lines]
    reported = "\n".join(
        line.removeprefix("attack: ") for line in output if line.startswith("attack: ")
    )
    results = hostile.parse(reported)
    assert hostile.not_refused(results, read_only) == {}
    assert not list(project.recipe.parent.rglob("pwned"))
    assert not list(project.cache.rglob("disk")) and not list(project.cache.rglob("mem"))

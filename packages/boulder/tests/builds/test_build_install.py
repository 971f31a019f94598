"""Built packages install with moss into an empty root, and the program runs there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.build import BuildOptions, build
from boulder.macros.load import MacroSet

from .conftest import Project

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


@pytest.mark.usefixtures("containers")
def test_packages_install_with_moss_and_run(
    foo_project: Callable[..., Project], macros: MacroSet, tmp_path: Path
) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("the host profile builds with the host's gcc, which is missing")
    project = foo_project()
    # Programs built on the host need its C library: the example recipe packages it.
    libc_recipe = tmp_path / "host-libc"
    shutil.copytree(EXAMPLES / "host-libc", libc_recipe)
    for recipe in (project.recipe, libc_recipe):
        options = BuildOptions(
            output=project.output, cache_dir=project.cache, jobs=2, source_date_epoch=1,
            out=lambda _line: None,
        )  # fmt: skip
        build(recipe, macros, options)
    stones = sorted(str(p) for p in project.output.glob("*.stone") if "dbginfo" not in p.name)
    root = tmp_path / "root"
    root.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "moss", "-D", str(root), "-y", "install", *stones],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (root / "usr/bin/foo-answer").is_file()
    assert os.readlink(root / "usr/lib/libfoo.so.1") == "libfoo.so.1.0"
    assert (root / "usr/lib/pkgconfig/foo.pc").is_file()
    if os.geteuid() == 0 and shutil.which("chroot"):
        ran = subprocess.run(
            ["chroot", str(root), "/usr/bin/foo-answer"], capture_output=True, text=True
        )
        assert ran.stdout == "42\n", ran.stderr

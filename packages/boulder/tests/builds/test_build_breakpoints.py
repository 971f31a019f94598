"""What a breakpoint shell gets: the script environment and every macro, loadable by bash."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.build.runner import breakpoint_profile
from boulder.cli import main
from boulder.macros.load import MacroSet
from boulder.phases import BuildContext, Phase, phase_script, shell_macros
from boulder.recipe.load import load_recipe
from boulder.recipe.targets import Stage

MAIN = "import sys; from boulder.cli import main; main(sys.argv[1:])"


def test_breakpoint_shell_profile_loads_in_bash(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext, tmp_path: Path
) -> None:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    loaded = load_recipe(write_recipe("build: |\n  make\n  %break_continue\n  make\n"))
    script = phase_script(loaded, macros, context, "x86_64", Stage.NONE, Phase.BUILD)
    assert script is not None
    profile = breakpoint_profile(script.preamble)
    assert not any(line.startswith(("#!", "set -", "TERM=")) for line in profile.splitlines())
    assert "export CFLAGS=" in profile or 'CFLAGS="' in profile
    extra = shell_macros(loaded, macros, context, "x86_64", Stage.NONE, Phase.BUILD)
    assert 'd_libdir="/usr/lib"; export d_libdir' in extra.splitlines()
    # Outside the container the work directory does not exist: leave out the check and `cd`.
    kept = [
        line for line in profile.splitlines()
        if "missing work directory" not in line and not line.startswith("cd ")
    ]  # fmt: skip
    (tmp_path / ".profile").write_text("\n".join(kept) + "\n" + extra)
    done = subprocess.run(
        ["bash", "-c", 'source .profile; declare -F a_make >/dev/null; echo "$d_libdir"'],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "/usr/lib"


@pytest.mark.usefixtures("containers")
def test_breakpoint_opens_a_shell_in_the_container(tmp_path: Path) -> None:
    """With a terminal on standard input, the build stops for a shell, then continues."""
    recipe = tmp_path / "stone.yaml"
    recipe.write_text(
        "name: bp\nversion: 1\nrelease: 1\nhomepage: h\nlicense: MIT\n"
        "build: |\n  echo one\n  %break_continue\n  echo two\n",
        encoding="utf-8",
    )
    (tmp_path / "out").mkdir()
    master, terminal = pty.openpty()
    try:
        os.write(master, b'echo "BP:$d_libdir:$(id -u):$PWD"; declare -F a_make; exit\n')
        done = subprocess.run(
            [sys.executable, "-c", MAIN,
             "build", str(recipe), "-o", str(tmp_path / "out"), "--cache-dir",
             str(tmp_path / "cache")],
            stdin=terminal, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(master)
        os.close(terminal)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Breakpoint at line 8 (continue)" in lines
    assert "BP:/usr/lib:0:/mason/build/x86_64" in lines and "a_make" in lines
    assert lines.index("│B│ one") < lines.index("a_make") < lines.index("│B│ two")

    # `boulder chroot` enters the same root afterwards; the shell's status is the command's.
    master, terminal = pty.openpty()
    try:
        os.write(master, b'echo "CHROOT:$(id -u):$d_libdir:$PWD"; exit 7\n')
        shell = subprocess.run(
            [sys.executable, "-c", MAIN, "chroot", str(recipe), "--cache-dir",
             str(tmp_path / "cache")],
            stdin=terminal, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(master)
        os.close(terminal)
    assert shell.returncode == 7, shell.stderr
    assert "CHROOT:0:/usr/lib:/mason/build/x86_64" in shell.stdout.splitlines()


def test_chroot_needs_a_build_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "stone.yaml"
    recipe.write_text("name: bp\nversion: 1\nrelease: 1\nhomepage: h\nlicense: MIT\n")
    with pytest.raises(SystemExit) as exited:
        main(["chroot", str(recipe), "--cache-dir", str(tmp_path / "cache")])
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "boulder: error: build root doesn't exist, make sure to run build first\n"
    )

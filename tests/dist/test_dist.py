"""`make dist`'s moss runs where there is nothing else: no Python, no shared library.

The executable is built by scripts/dist.sh (again only when a source is newer than it), then
run in an empty root of its own (a user namespace with a chroot holding only the executable, a
package and /proc), where it installs and removes the package in a scratch root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKSPACE = Path(__file__).resolve().parents[2]
MOSS = WORKSPACE / "dist" / "moss"
SOURCES = [
    WORKSPACE / "uv.lock",
    WORKSPACE / "scripts" / "dist.sh",
    *WORKSPACE.glob("packages/*/src"),
]


def _newest_source() -> float:
    newest = 0.0
    for source in SOURCES:
        paths = source.rglob("*.py") if source.is_dir() else [source]
        newest = max([newest, *(p.stat().st_mtime for p in paths)])
    return newest


def _uv() -> list[str]:
    """The uv `make` found (it exports UV), else the one on PATH."""
    if os.environ.get("UV"):
        return os.environ["UV"].split()
    found = shutil.which("uv")
    if found is None:
        pytest.skip("building dist/moss needs uv: run the tests with `make test`")
    return [found]


@pytest.fixture(scope="module")
def moss_executable() -> Path:
    if not Path("/usr/bin/python3").exists():
        pytest.skip("make dist builds with the system Python, /usr/bin/python3, which is missing")
    if not MOSS.exists() or MOSS.stat().st_mtime < _newest_source():
        env = {**os.environ, "UV": " ".join(_uv())}
        done = subprocess.run(
            ["bash", str(WORKSPACE / "scripts" / "dist.sh"), "moss"],
            capture_output=True, text=True, env=env, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return MOSS


def _in_empty_root(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run `argv` chrooted into `root`, which holds only what the test put there plus the
    kernel's /proc and /dev (bound in from the host before the chroot)."""
    chroot = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    unshare = shutil.which("unshare")
    assert chroot is not None and unshare is not None
    enter = f'mount --rbind /dev "{root}/dev" && exec "{chroot}" "{root}" "$@"'
    return subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "--pid", "--fork",
         f"--mount-proc={root / 'proc'}", "/bin/sh", "-c", enter, "sh", *argv],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=300,
    )  # fmt: skip


@pytest.fixture
def root(moss_executable: Path, tmp_path: Path) -> Path:
    """An empty root holding only the executable (and places for /proc, /dev, /tmp)."""
    if subprocess.run(["unshare", "--user", "--map-root-user", "true"]).returncode != 0:
        pytest.skip("this machine does not allow user namespaces")
    root = tmp_path / "empty"
    for directory in ("proc", "dev", "tmp", "system"):
        (root / directory).mkdir(parents=True)
    shutil.copy2(moss_executable, root / "moss")
    return root


def test_dist_moss_installs_and_removes_in_an_empty_root(root: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    (tree / "bin" / "hello").chmod(0o755)
    packed = subprocess.run(
        [sys.executable, "-m", "stone", "create", "--root", str(tree), "--name", "hello",
         "--version", "1.0", "--release", "1", "--summary", "Says hello", "--license", "MIT",
         "-o", str(root / "hello.stone")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert packed.returncode == 0, packed.stderr
    assert not any(root.glob("**/*.so*")) and not (root / "usr").exists()

    installed = _in_empty_root(root, "/moss", "-D", "/system", "-y", "install", "/hello.stone")
    assert installed.returncode == 0, installed.stderr
    assert (root / "system/usr/bin/hello").read_text() == "#!/bin/sh\necho hello\n"
    listed = _in_empty_root(root, "/moss", "-D", "/system", "list", "installed")
    assert listed.returncode == 0 and listed.stdout.startswith("hello"), listed.stderr

    removed = _in_empty_root(root, "/moss", "-D", "/system", "-y", "remove", "hello")
    assert removed.returncode == 0, removed.stderr
    assert not (root / "system/usr/bin/hello").exists()


STAMP_SOURCE = r"""
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    int fd = open("/usr/share/stamped", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    return fd < 0 ? 1 : (write(fd, "ran\n", 4) == 4 && close(fd) == 0 ? 0 : 2);
}
"""


def test_dist_moss_runs_a_packages_trigger_in_its_container(root: Path, tmp_path: Path) -> None:
    """The executable is its own container helper, with libseccomp bundled for the filter."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build a static trigger handler")
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "share/moss/triggers/tx.d").mkdir(parents=True)
    (tmp_path / "stamp.c").write_text(STAMP_SOURCE)
    subprocess.run(
        ["gcc", "-static", "-O1", "-o", str(tree / "bin/stamp"), str(tmp_path / "stamp.c")],
        check=True,
    )
    (tree / "share/moss/triggers/tx.d/stamp.yaml").write_text(
        "name: stamp\ndescription: test trigger\nhandlers:\n  go:\n    run: /usr/bin/stamp\n"
        '    args: []\npaths:\n  "/usr/bin/stamp":\n    handlers: [go]\n'
    )
    packed = subprocess.run(
        [sys.executable, "-m", "stone", "create", "--root", str(tree), "--name", "stamp",
         "--version", "1.0", "--release", "1", "-o", str(root / "stamp.stone")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert packed.returncode == 0, packed.stderr
    installed = _in_empty_root(root, "/moss", "-D", "/system", "-y", "install", "/stamp.stone")
    assert installed.returncode == 0, installed.stderr
    assert (root / "system/usr/share/stamped").read_text() == "ran\n"

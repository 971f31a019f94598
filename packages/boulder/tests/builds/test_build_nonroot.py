"""A whole build as an ordinary user (nobody), with no privilege and no helper binary.

The tests run as root from a virtual environment other users cannot read, so this build uses
the system Python with copies of the workspace sources and of the third-party packages (from
uv's cache, else the registry) placed in a world-readable directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from importlib.metadata import requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from moss_core.repository import build_index
from stone import StoneReader

from .conftest import Project

NOBODY = 65534
MAIN = "import sys; from boulder.cli import main; main(sys.argv[1:])"
SYSTEM_PYTHON = Path("/usr/bin/python3")
WORKSPACE_DISTRIBUTIONS = {"boulder", "moss-core", "stone", "fnmatch-ext"}
WORKSPACE = Path(__file__).resolve().parents[3]
# Needs the foo library the first build makes: `--extra-repo` lays it over the host's /usr.
FOO_USER = """\
name: foo-user
version: 1
release: 1
homepage: https://example.com/foo-user
license: MIT
toolchain: gnu
builddeps:
  - pkgconfig(foo)
build: |
  printf '#include <foo.h>\\nint main(void) { return foo_answer() != 42; }\\n' > use.c
  %(cc) %(cflags) %(ldflags) -o use use.c $(pkg-config --cflags --libs foo)
  ./use
install: |
  %install_bin use
"""
SOURCES = ("stone/src/stone", "moss-core/src/moss_core", "fnmatch-ext/src/fnmatch_ext",
           "boulder/src/boulder")  # fmt: skip


def _third_party() -> list[str]:
    """Every distribution an installed boulder needs, as this environment resolved them."""
    needed: set[str] = set()
    pending = ["boulder"]
    while pending:
        for text in requires(pending.pop()) or ():
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name not in needed:
                pending.append(name)
                if name not in WORKSPACE_DISTRIBUTIONS:
                    needed.add(name)
    return sorted(needed)


def _uv() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    return [sys.executable, "-m", "uv"] if probe.returncode == 0 else None


@pytest.fixture(scope="module")
def shared_dir() -> Iterator[Path]:
    """A directory every user can read, holding an importable copy of boulder and its deps."""
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root (the tests run as root in CI)")
    if not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None:
        pytest.skip(f"needs {SYSTEM_PYTHON} and setpriv to run as nobody")
    uv = _uv()
    if uv is None:
        pytest.skip("uv is needed to copy the third-party packages for the system Python")
    top = Path(tempfile.mkdtemp(prefix="boulder-nonroot-"))
    try:
        top.chmod(0o755)
        pins = [f"{name}=={version(name)}" for name in _third_party()]
        install = [*uv, "pip", "install", "--python", str(SYSTEM_PYTHON),
                   "--target", str(top / "deps"), "--no-deps", "--quiet", *pins]  # fmt: skip
        # uv's cache holds the wheels `uv sync` installed, but not the index pages `uv pip`
        # resolves pins with: on a fresh machine the first run needs the registry.
        done = subprocess.run([*install, "--offline"], capture_output=True, text=True)
        if done.returncode != 0:
            done = subprocess.run(install, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot install {pins} for {SYSTEM_PYTHON}: {done.stderr[-400:]}")
        for source in SOURCES:
            shutil.copytree(
                WORKSPACE / source, top / "src" / Path(source).name,
                ignore=shutil.ignore_patterns("__pycache__"),
            )  # fmt: skip
        for directory, _dirs, files in os.walk(top):
            os.chmod(directory, 0o755)
            for name in files:
                os.chmod(os.path.join(directory, name), 0o644)
        yield top
    finally:
        shutil.rmtree(top)


@pytest.mark.usefixtures("containers")
def test_build_as_nobody(foo_project: Callable[..., Project], shared_dir: Path) -> None:
    project = foo_project()
    work = Path(tempfile.mkdtemp(prefix="boulder-nonroot-build-", dir=shared_dir))
    try:
        recipe_dir = work / "recipe"
        shutil.copytree(project.recipe.parent, recipe_dir)
        tarball = recipe_dir / project.tarball.relative_to(project.recipe.parent)
        text = (recipe_dir / "stone.yaml").read_text(encoding="utf-8")
        text = text.replace(project.tarball.as_uri(), tarball.as_uri())
        (recipe_dir / "stone.yaml").write_text(text, encoding="utf-8")
        (work / "out").mkdir()
        for directory, dirs, files in os.walk(work):
            for name in (directory, *(os.path.join(directory, n) for n in dirs + files)):
                os.chown(name, NOBODY, NOBODY)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work),
            "PYTHONPATH": f"{shared_dir / 'src'}:{shared_dir / 'deps'}",
            "SOURCE_DATE_EPOCH": "1700000000",
        }

        def build_as_nobody(recipe: Path, *extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 str(SYSTEM_PYTHON), "-c", MAIN, "build", str(recipe), "-o", str(work / "out"),
                 "--cache-dir", str(work / "cache"), "-j", "2", *extra],
                capture_output=True, text=True, env=env, cwd=work, timeout=300,
            )  # fmt: skip

        done = build_as_nobody(recipe_dir)
        assert done.returncode == 0, done.stderr + done.stdout[-3000:]
        assert "│I│ install -Dm755 foo-answer" in done.stdout
        built = sorted(p.name for p in (work / "out").iterdir())
        assert "foo-libs-1.0-1-1-x86_64.stone" in built and len(built) == 4
        # Files the build made belong to nobody on the host, to root in the packages.
        installed = work / "cache/root/foo-1.0-1/mason/install/usr/bin/foo-answer"
        assert installed.stat().st_uid == NOBODY
        with StoneReader(work / "out" / "foo-1.0-1-1-x86_64.stone") as reader:
            assert {(e.uid, e.gid) for e in reader.layout()} == {(0, 0)}

        # A build linking that library: moss composes it into a layer, and the overlay over
        # the host's /usr is mounted in nobody's user namespace.
        build_index(work / "out")
        (work / "user").mkdir()
        (work / "user" / "stone.yaml").write_text(FOO_USER, encoding="utf-8")
        for name in (work / "user", work / "user" / "stone.yaml"):
            os.chown(name, NOBODY, NOBODY)
        done = build_as_nobody(work / "user", "--extra-repo", str(work / "out" / "stone.index"))
        assert done.returncode == 0, done.stderr + done.stdout[-3000:]
        assert "Laying over the host's /usr, from the extra repositories: pkgconfig(foo)" in (
            done.stdout
        )
        assert (work / "out" / "foo-user-1-1-1-x86_64.stone").is_file()
    finally:
        shutil.rmtree(work)

"""Scratch roots, packages made on the fly, and a way to run moss against them."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from moss.cli import main
from stone import Dependency, Meta, Provider, scan_tree, write_binary


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


MossRun = Callable[..., Result]


def make_stone(
    directory: Path,
    name: str,
    files: Mapping[str, bytes | str] | None = None,
    *,
    version: str = "1.0",
    release: int = 1,
    depends: Sequence[str] = (),
    provides: Sequence[str] = (),
    conflicts: Sequence[str] = (),
    summary: str = "",
) -> Path:
    """A binary package whose files (paths relative to /usr) hold the given content.

    A value that is a `str` starting with `->` makes a symlink to the rest of it.
    """
    tree = directory / f".tree-{name}-{version}-{release}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    for path, content in (files or {f"share/{name}/README": f"{name} {version}\n"}).items():
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content.startswith("->"):
            os.symlink(content[2:], target)
        else:
            target.write_bytes(content.encode() if isinstance(content, str) else content)
            if path.startswith("bin/"):
                target.chmod(0o755)
    meta = Meta(
        name=name,
        version=version,
        release=release,
        architecture="x86_64",
        summary=summary or f"The {name} package",
        source_id=name,
        licenses=("MIT",),
        depends=tuple(Dependency.parse(d) for d in depends),
        provides=tuple(Provider.parse(p) for p in provides),
        conflicts=tuple(Provider.parse(c) for c in conflicts),
    )
    scanned = scan_tree(tree)
    out = io.BytesIO()
    write_binary(out, meta, scanned.layout, scanned.blobs)
    path = directory / meta.filename
    path.write_bytes(out.getvalue())
    shutil.rmtree(tree)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def packages(tmp_path: Path) -> Path:
    path = tmp_path / "packages"
    path.mkdir()
    return path


@pytest.fixture
def moss(root: Path) -> MossRun:
    """Run the moss CLI in-process against the scratch root, agreeing to every question."""

    def run(*args: str, yes: bool = True, input: str | None = None) -> Result:
        argv = ["-D", str(root), *(["-y"] if yes else []), *args]
        result = CliRunner().invoke(main, argv, input=input, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


def run_moss_process(
    root: Path, *args: str, env: Mapping[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run moss as its own process (for locks, terminals and signals)."""
    return subprocess.run(
        [sys.executable, "-m", "moss", "-D", str(root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        **kwargs,  # type: ignore[arg-type]
    )

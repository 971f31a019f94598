"""Toy recipe repositories and a `summit` runner for the queue tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from stone import Meta, Provider, write_manifest

FAKE_BUILDER = Path(__file__).with_name("fake_builder.py")
# Each `summit build` here starts a LocalCluster; a hung one must not hang the suite.
RUN_TIMEOUT = 120

DIAMOND: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "base": ((), ("soname(libbase.so.1(x86_64))",)),
    "left": (("soname(libbase.so.1(x86_64))",), ("pkgconfig(left)",)),
    "right": (("soname(libbase.so.1(x86_64))",), ("pkgconfig(right)",)),
    "top": (("pkgconfig(left)", "pkgconfig(right)"), ()),
    "solo": ((), ()),
}


def write_recipe(
    root: Path, name: str, deps: Sequence[str], provides: Sequence[str], release: int = 1
) -> Path:
    """`<letter>/<name>/stone.yaml` and its committed manifest, as AerynOS/recipes has them."""
    directory = root / name[0] / name
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"name: {name}", "version: 1.0", f"release: {release}",
        "homepage: https://example.org", "license: MIT",
    ]  # fmt: skip
    if deps:
        lines.append("builddeps:")
        lines += [f"  - {d}" for d in deps]
    (directory / "stone.yaml").write_text("\n".join(lines) + "\n")
    meta = Meta(
        name=name, version="1.0", release=release, build_release=0, architecture="x86_64",
        source_id=name, provides=tuple(Provider.parse(p) for p in provides),
    )  # fmt: skip
    with open(directory / "manifest.x86_64.bin", "wb") as out:
        write_manifest(out, [meta])
    return directory


@dataclass
class Toy:
    recipes: Path
    out: Path

    def builds(self) -> list[str]:
        counter = self.out.parent / "builds.txt"
        return counter.read_text().split() if counter.exists() else []

    def command(self, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "summit", "build", str(self.recipes), "--repo", str(self.out),
            "--workers", "2", "--builder", f"{sys.executable} {FAKE_BUILDER}", *extra,
        ]  # fmt: skip

    def run(
        self, *extra: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_group(self.command(*extra), env)


def run_group(
    command: list[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run in its own process group, and kill whatever of it is left (Dask workers, builds).
    `env` is added to this process's environment."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env=None if env is None else {**os.environ, **env},
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        kill_group(process.pid)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[Toy]:
    recipes = tmp_path / "recipes"
    for name, (deps, provides) in DIAMOND.items():
        write_recipe(recipes, name, deps, provides)
    yield Toy(recipes, tmp_path / "repo")

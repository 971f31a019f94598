"""Scratch roots, packages made on the fly, and a way to run moss against them."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from moss_roots import make_stone, run_moss

from moss.cli import main
from stone import FileKind, PayloadKind, StoneReader, encode_payload
from stone.layout import encode_layout

__all__ = [
    "MossRun",
    "Result",
    "make_stone",
    "moss",
    "name_missing_content",
    "packages",
    "root",
    "run_moss_process",
]


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


MossRun = Callable[..., Result]


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
    return run_moss(root, *args, env=env, **kwargs)


def name_missing_content(stone: Path, path: str, digest: int) -> None:
    """Rewrite a package so that its layout gives `path` (below /usr) content `digest`, which
    its index and content do not hold: the writer refuses to make such a package."""
    data = stone.read_bytes()
    with StoneReader(stone) as reader:
        refs = list(reader.payloads)
        layout = reader.layout()
    assert any(e.path == path for e in layout), path
    out = [data[:32]]
    for ref in refs:
        if ref.header.kind is PayloadKind.LAYOUT:
            entries = [
                dataclasses.replace(e, digest=digest)
                if e.path == path and e.kind is FileKind.REGULAR
                else e
                for e in layout
            ]
            out.append(encode_payload(PayloadKind.LAYOUT, *encode_layout(entries)))
        else:
            out.append(ref.header.encode() + data[ref.offset : ref.offset + ref.header.stored_size])
    stone.write_bytes(b"".join(out))

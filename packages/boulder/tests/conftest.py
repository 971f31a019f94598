"""Shared fixtures for boulder's tests: bundled macros, a fixed build context, recipe writers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.cli import main
from boulder.macros.load import MacroSet, bundled_data_dir, load_macros
from boulder.phases import BuildContext

REPO_ROOT = Path(__file__).resolve().parents[3]
CORPUS = REPO_ROOT.parent / "shared" / "corpus"

MINIMAL = """\
name: hello
version: 1.0
release: 1
homepage: https://example.com/hello
license: MIT
"""


@pytest.fixture(scope="session")
def macros() -> MacroSet:
    return load_macros(bundled_data_dir())


@pytest.fixture(scope="session")
def context() -> BuildContext:
    return BuildContext(jobs=4, source_date_epoch=1700000000)


@pytest.fixture
def write_recipe(tmp_path: Path) -> Callable[[str], Path]:
    """Write a recipe (the minimal required keys are prepended) and return its path."""

    def write(extra: str, *, minimal: bool = True) -> Path:
        path = tmp_path / "stone.yaml"
        path.write_text((MINIMAL if minimal else "") + extra, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def corpus_recipes() -> list[Path]:
    recipes = sorted((CORPUS / "recipes").glob("*/*/stone.yaml"))
    if not recipes:
        pytest.skip(f"real recipe corpus not found at {CORPUS}/recipes (it lives beside the repo)")
    return recipes


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`boulder ARGS…` in this process: its exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out.out, out.err

"""Hostile input: mutated repository indexes, recipes, trigger files and KDL documents raise only
the project's own errors, never hang (hypothesis deadline) and stay within a memory bound.

Seeds are real: `stone.index` files built from packages, the recipes and trigger files of
`../shared/corpus/recipes`, the corpus's KDL profile and the KDL moss writes itself. The stone
reader on mutated packages is fuzzed in packages/stone/tests/test_stone_strict.py; here the
repository index is fuzzed through `moss_core.repository.refresh`, the path moss uses.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moss_roots import make_stone

from boulder import BoulderError, load_recipe
from moss_core import kdl
from moss_core.errors import MossError
from moss_core.installation import Installation
from moss_core.repository import Repository, build_index, refresh
from moss_core.triggers import TriggerError, parse_trigger
from stone import StoneError

MEMORY_BOUND = 64 << 20
"""Peak of Python allocations while one mutated input is handled."""
SETTINGS = settings(
    max_examples=300,
    deadline=2000,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@contextmanager
def bounded_memory() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < MEMORY_BOUND, f"peak {peak} bytes"


def mutate_bytes(data: st.DataObject, original: bytes) -> bytes:
    """A few flips, cuts, insertions and overwrites at drawn positions."""
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 6), label="mutations")):
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "set", "repeat"]))
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "flip" and mutated:
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "truncate":
            del mutated[position:]
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=16))
        elif action == "repeat" and mutated:
            end = data.draw(st.integers(position, min(len(mutated), position + 64)))
            mutated[position:position] = mutated[position:end] * data.draw(st.integers(1, 50))
        elif mutated:
            mutated[position] = data.draw(st.integers(0, 255))
    return bytes(mutated)


TEXT_PIECES = [
    "\n",
    ":",
    " ",
    "  ",
    "-",
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    "#",
    "&a",
    "*a",
    "!!python/object:os.system",
    "? ",
    "|",
    ">",
    "\t",
    "\\",
    "/-",
    "/*",
    "*/",
    "=",
    ";",
    'r#"',
    "\x00",
    "\ufeff",
    "1e999",
    "-0x",
    "%(x)",
    "$(x)",
    "~",
    "null",
    "true",
    "9" * 30,
]


def mutate_text(data: st.DataObject, original: str) -> str:
    """Text mutations that keep it mostly well-formed: syntax pieces put in, lines dropped,
    duplicated or moved, characters cut."""
    lines = original.splitlines(keepends=True) or [""]
    for _ in range(data.draw(st.integers(1, 5), label="mutations")):
        action = data.draw(st.sampled_from(["piece", "drop", "dup", "swap", "cut", "char"]))
        index = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        line = lines[index] if lines else ""
        if action == "piece":
            at = data.draw(st.integers(0, len(line)))
            piece = data.draw(st.sampled_from(TEXT_PIECES))
            lines[index] = line[:at] + piece + line[at:]
        elif action == "drop" and len(lines) > 1:
            del lines[index]
        elif action == "dup":
            lines.insert(index, line * data.draw(st.integers(1, 3)))
        elif action == "swap" and len(lines) > 1:
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif action == "cut":
            at = data.draw(st.integers(0, len(line)))
            lines[index] = line[:at]
        else:
            at = data.draw(st.integers(0, len(line)))
            lines[index] = line[:at] + data.draw(st.characters()) + line[at:]
    return "".join(lines)


# -- the repository index, through refresh ------------------------------------------------------


@pytest.fixture(scope="module")
def index_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    repo = tmp_path_factory.mktemp("index-seed")
    make_stone(repo, "a", {"bin/a": b"a"}, depends=["soname(libb.so.1(x86_64))"])
    make_stone(repo, "b", {"lib/libb.so.1": b"b"}, provides=["soname(libb.so.1(x86_64))"])
    make_stone(repo, "c", {"share/c": b"c"}, summary="c " * 40)
    build_index(repo)
    return (repo / "stone.index").read_bytes()


@SETTINGS
@given(data=st.data())
def test_mutated_index_refresh_raises_only_moss_errors(
    index_bytes: bytes, data: st.DataObject
) -> None:
    mutated = mutate_bytes(data, index_bytes)
    work = Path(tempfile.mkdtemp(prefix="fuzz-index-"))
    try:
        (work / "repo").mkdir()
        (work / "root").mkdir()
        (work / "repo/stone.index").write_bytes(mutated)
        installation = Installation.open(work / "root")
        repo = Repository("fuzz", f"file://{work}/repo/stone.index", 0)
        with bounded_memory(), suppress(MossError, StoneError):
            refresh(installation, repo)
    finally:
        shutil.rmtree(work)


def test_unmutated_index_refreshes(index_bytes: bytes, tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "root").mkdir()
    (tmp_path / "repo/stone.index").write_bytes(index_bytes)
    repo = Repository("seed", f"file://{tmp_path}/repo/stone.index", 0)
    assert refresh(Installation.open(tmp_path / "root"), repo) == 3


# -- recipes ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recipes(corpus: Path) -> list[str]:
    files = sorted((corpus / "recipes").glob("*/*/stone.yaml"))
    chosen = random.Random(8).sample(files, min(60, len(files)))
    return [f.read_text() for f in chosen]


@SETTINGS
@given(data=st.data())
def test_mutated_recipes_raise_only_boulder_errors(recipes: list[str], data: st.DataObject) -> None:
    text = mutate_text(data, data.draw(st.sampled_from(recipes), label="recipe"))
    work = Path(tempfile.mkdtemp(prefix="fuzz-recipe-"))
    try:
        (work / "stone.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        with bounded_memory(), suppress(BoulderError):
            load_recipe(work)
    finally:
        shutil.rmtree(work)


# -- trigger files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def triggers(corpus: Path) -> list[str]:
    files = sorted((corpus / "recipes").glob("*/*/pkg/*.yaml"))
    files += sorted((corpus / "os-tools-data/test").glob("trigger*.yml"))
    assert files
    return [f.read_text() for f in files]


def test_seed_triggers_parse(triggers: list[str]) -> None:
    for text in triggers:
        parse_trigger(text)


@SETTINGS
@given(data=st.data())
def test_mutated_triggers_raise_only_trigger_errors(
    triggers: list[str], data: st.DataObject
) -> None:
    text = mutate_text(data, data.draw(st.sampled_from(triggers), label="trigger"))
    with bounded_memory():
        try:
            _trigger, ignored = parse_trigger(text, "fuzz.yaml")
        except TriggerError as error:
            assert "fuzz.yaml" in str(error)
        else:
            assert all(isinstance(key, str) for key in ignored)


# -- KDL ----------------------------------------------------------------------------------------

KDL_SEEDS = [
    """repositories {
    volatile {
        uri "https://example.org/volatile/x86_64/stone.index"
        priority 10
        description "The volatile repository"
        active #true
    }
}
packages {
    nano id="3f5c"
    "binary(htop)"
}
locked {
    package id="9b1e"
}
disable_warning #false
""",
    'node 1 2.5 -3 0x1f 0o17 0b101 "s" r#"raw "x""# #null #true key="v" { child; other 1; }\n',
    '/- skipped { x }\nnode /* inline */ "a" \\\n    "b" // comment\n(type)node (t)"v"\n',
]


@pytest.fixture(scope="module")
def kdl_seeds(corpus: Path) -> list[str]:
    found = [p.read_text() for p in sorted(corpus.rglob("*.kdl"))]
    return KDL_SEEDS + found


@SETTINGS
@given(data=st.data())
def test_mutated_kdl_raises_only_kdl_errors(kdl_seeds: list[str], data: st.DataObject) -> None:
    text = mutate_text(data, data.draw(st.sampled_from(kdl_seeds), label="kdl"))
    with bounded_memory(), suppress(kdl.KdlError):
        kdl.parse(text)


@settings(max_examples=300, deadline=1000, derandomize=True)
@given(st.text(max_size=300))
def test_arbitrary_text_is_kdl_or_a_kdl_error(text: str) -> None:
    with suppress(kdl.KdlError):
        kdl.parse(text)


# -- found by atheris ---------------------------------------------------------------------------

# Found by atheris: ruamel's loader raises ValueError (not a YAMLError) for a plain scalar that
# looks like a float, such as `._`.
LOOKALIKES = ["._", "name: x\nversion: -._\n"]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_yaml_float_lookalike_in_a_trigger_is_a_trigger_error(text: str) -> None:
    with suppress(TriggerError):
        parse_trigger(text, "fuzz.yaml")


@pytest.mark.parametrize("text", LOOKALIKES)
def test_yaml_float_lookalike_in_a_recipe_is_a_boulder_error(text: str, tmp_path: Path) -> None:
    (tmp_path / "stone.yaml").write_text(text)
    with suppress(BoulderError):
        load_recipe(tmp_path)


def test_package_with_a_float_lookalike_trigger_installs_without_traceback(
    tmp_path: Path,
) -> None:
    from moss_roots import run_moss

    root = tmp_path / "root"
    root.mkdir()
    stone = make_stone(
        tmp_path,
        "odd",
        {"share/odd": b"o", "share/moss/triggers/tx.d/odd.yaml": b"name: odd\nversion: ._\n"},
    )
    result = run_moss(root, "-y", "install", str(stone))
    assert "Traceback" not in result.stderr, result.stderr[-300:]

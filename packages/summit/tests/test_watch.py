"""Change detection: which recipes a new tree queues, and noticing that a tree changed."""

from __future__ import annotations

import os
from pathlib import Path

from summit.queue import Task, plan
from summit.watch import changes, fingerprint

BASE = ("soname(libbase.so.1(x86_64))",)


def _tree(**releases: int) -> list[Task]:
    """The diamond (base ← left, right ← top) and an unrelated solo, at the given releases."""
    shape = {
        "base": ((), frozenset(BASE)),
        "left": (BASE, frozenset({"pkgconfig(left)"})),
        "right": (BASE, frozenset({"pkgconfig(right)"})),
        "top": (("pkgconfig(left)", "pkgconfig(right)"), frozenset()),
        "solo": ((), frozenset()),
    }
    return [
        Task(n, "1.0", releases.get(n, 1), f"{n[0]}/{n}", deps, provides)
        for n, (deps, provides) in shape.items()
    ]


def _changes(old: list[Task], new: list[Task]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found = changes(old, new, plan(new, {}, frozenset()))
    return found.bumped, found.dependents


def test_a_bumped_release_queues_it_and_what_needs_it() -> None:
    assert _changes(_tree(), _tree(base=2)) == (("base",), ("left", "right", "top"))
    assert _changes(_tree(), _tree(left=2)) == (("left",), ("top",))
    assert _changes(_tree(), _tree(solo=5)) == (("solo",), ())


def test_an_unchanged_or_lowered_release_queues_nothing() -> None:
    assert _changes(_tree(), _tree()) == ((), ())
    assert _changes(_tree(base=3), _tree(base=2)) == ((), ())


def test_a_new_recipe_is_queued_and_a_dependent_bumped_too_is_not_repeated() -> None:
    old = [t for t in _tree() if t.name != "right"]
    assert _changes(old, _tree()) == (("right",), ("top",))
    assert _changes(_tree(), _tree(base=2, top=2)) == (("base", "top"), ("left", "right"))


def test_fingerprint_of_a_git_checkout_is_its_commit(tmp_path: Path) -> None:
    assert fingerprint(tmp_path, "abc123") == "git:abc123"


def test_fingerprint_of_a_directory_follows_its_files(tmp_path: Path) -> None:
    recipe = tmp_path / "s" / "solo" / "stone.yaml"
    recipe.parent.mkdir(parents=True)
    recipe.write_text("release: 1\n")
    first = fingerprint(tmp_path, None)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_text("hidden directories do not count")
    assert fingerprint(tmp_path, None) == first
    recipe.write_text("release: 2\n")
    assert fingerprint(tmp_path, None) != first
    second = fingerprint(tmp_path, None)
    os.utime(recipe, ns=(0, 0))
    assert fingerprint(tmp_path, None) != second

"""Reading a state back from its tree, and which states a rebuild records."""

from __future__ import annotations

from pathlib import Path

from moss_core.client.apply import write_state_files
from moss_core.client.rebuild import REBUILT_SUMMARY, TreeRecord, plan_states, read_tree
from moss_core.db import Selection, State
from moss_core.model import render

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _tree(
    usr: Path, state_id: int, explicit: list[tuple[str, str | None]], locked: list[str]
) -> None:
    usr.mkdir(parents=True)
    write_state_files(usr, state_id, render([], explicit, locked))


def test_a_tree_gives_back_its_packages_and_which_were_asked_for(tmp_path: Path) -> None:
    usr = tmp_path / "usr"
    _tree(usr, 4, [("nano", A), ("binary(vim)", B)], [C])
    record = read_tree(4, usr)
    assert record.problem is None
    assert record.selections == (Selection(A, True), Selection(B, True), Selection(C, False))
    assert record.names == {A: "name(nano)", B: "binary(vim)"}
    assert record.created == int((usr / ".stateID").stat().st_mtime)


def test_a_tree_that_cannot_say_its_packages(tmp_path: Path) -> None:
    unnumbered = tmp_path / "one" / "usr"
    _tree(unnumbered, 5, [("nano", A)], [])
    assert "does not say #4" in (read_tree(4, unnumbered).problem or "")
    no_model = tmp_path / "two" / "usr"
    _tree(no_model, 4, [("nano", A)], [])
    (no_model / "lib/system-model.kdl").unlink()
    assert "no record of its packages" in (read_tree(4, no_model).problem or "")
    upstream = tmp_path / "three" / "usr"
    _tree(upstream, 4, [("nano", None)], [])
    assert "gives no package id for name(nano)" in (read_tree(4, upstream).problem or "")


def test_only_states_whose_every_package_is_available_are_recorded() -> None:
    whole = TreeRecord(1, 100, (Selection(A, True),), {A: "nano"})
    partial = TreeRecord(2, 200, (Selection(A, True), Selection(B, False)), {A: "nano"})
    unreadable = TreeRecord(3, 300, problem="no record of its packages")
    plan = plan_states([whole, partial, unreadable], {A}, {B: "not in the cache"})
    assert plan.restore == (State(1, REBUILT_SUMMARY, None, 100, (Selection(A, True),)),)
    assert plan.skipped == (
        f"state #2: missing package(s): {B} (not in the cache)",
        "state #3: no record of its packages",
    )

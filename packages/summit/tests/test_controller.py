"""The builder command a build runs: boulder gets what is published so far as an extra
repository, whatever the profile (layered over the host's /usr, or above the profile's); a
build whose recipe left the tree while it ran is dropped, not published."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from summit.controller import Controller, Options, builder_command, check_writable
from summit.queue import Status

from .conftest import FAKE_BUILDER, write_recipe


@pytest.mark.parametrize("profile", ["host", "local-x86_64"])
def test_boulder_gets_the_published_index_once_there_is_one(tmp_path: Path, profile: str) -> None:
    options = Options(recipes=tmp_path / "recipes", out=tmp_path / "repo", profile=profile)
    recipe, staging = tmp_path / "recipes/g/greet", tmp_path / "staging"
    before = builder_command(options, recipe, staging)
    assert "--extra-repo" not in before and before[-2:] == ("-p", profile)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "stone.index").write_bytes(b"")
    after = builder_command(options, recipe, staging)
    assert after[-2:] == ("--extra-repo", str(tmp_path / "repo" / "stone.index"))
    assert after[-4:-2] == ("-p", profile)


def test_another_builder_gets_its_three_arguments_only(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "stone.index").write_bytes(b"")
    options = Options(tmp_path / "recipes", tmp_path / "repo", builder=("my-builder", "-x"))
    command = builder_command(options, tmp_path / "r", tmp_path / "s")
    assert command == ("my-builder", "-x", str(tmp_path / "r"), str(tmp_path / "s"), "host")


def test_a_build_whose_recipe_left_the_tree_meanwhile_is_dropped(tmp_path: Path) -> None:
    recipes, out = tmp_path / "recipes", tmp_path / "repo"
    solo = write_recipe(recipes, "solo", (), ())
    write_recipe(recipes, "base", (), ())
    check_writable(out)
    said: list[str] = []
    controller = Controller(Options(recipes, out), said.append)
    try:
        controller.refresh()
        attempt = controller.state.start("solo", None, out / ".summit" / "logs" / "solo")
        # Its build: a real package, made while the recipe was still there.
        staging = out / ".summit" / "staging" / "solo" / f"a{attempt}"
        staging.mkdir(parents=True)
        subprocess.run(
            [sys.executable, str(FAKE_BUILDER), str(solo), str(staging), "host"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        stones = [str(p) for p in staging.glob("*.stone")]
        assert stones
        shutil.rmtree(solo)
        controller.refresh()
        graph, _published = controller._graph()
        result = {"task": "solo", "attempt": attempt, "worker": "w:1", "status": "ok",
                  "stones": stones}  # fmt: skip
        controller._finish(graph, result)
        row = controller.state.task("solo")
        assert row is not None
        reason = "its recipe left the tree while it was built"
        assert (row.status, row.reason) == (Status.FAILED, reason)
        assert said[-1] == f"dropped: solo: {reason}"
        assert controller.state.outputs() == []
        assert not (out / "stone.index").exists() and not (out / "main").exists()
        # What stays in the tree is unaffected, and the dropped task is no problem of this set.
        assert [r.name for r in controller.rows()] == ["base"]
    finally:
        controller.close()

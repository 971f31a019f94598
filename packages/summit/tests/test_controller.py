"""The builder command a build runs: boulder gets what is published so far as an extra
repository, whatever the profile (layered over the host's /usr, or above the profile's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from summit.controller import Options, builder_command


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

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.errors import RecipeError
from boulder.recipe.control import parse_kdl
from boulder.recipe.load import load_recipe

RECIPE = """\
builddeps: [a]
setup: s
check: make check
packages:
  - "%(name)-extra":
      rundeps: [x]
profiles:
  - emul32:
      build: old
"""


def test_parse_kdl_subset(tmp_path: Path) -> None:
    nodes = parse_kdl(
        'override { check ""; /-setup "x" }\n// note\nappend {\n  builddeps { "binary(b)"; c }\n}\n'
        'prepend { build r"raw \\n" /* c */ }\n',
        tmp_path / "control.kdl",
    )
    assert [n.name for n in nodes] == ["override", "append", "prepend"]
    assert [(c.name, c.args) for c in nodes[0].children] == [("check", [""])]
    assert [c.name for c in nodes[1].children[0].children] == ["binary(b)", "c"]
    assert nodes[2].children[0].args == ["raw \\n"]


def test_control_file_is_applied(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe(RECIPE)
    (path.parent / "control.kdl").write_text(
        'override { check "" }\n'
        'append { builddeps { b }\n setup "s2"\n packages { "%(name)-extra" { rundeps { y } } } }\n'
        'prepend { builddeps { z }\n profiles { emul32 { build "new" } } }\n'
    )
    recipe = load_recipe(path).recipe
    assert recipe.check == ""
    assert recipe.builddeps == ("z", "a", "b")
    assert recipe.setup == "s\ns2"
    assert recipe.packages[0][1].rundeps == ("x", "y")
    profile = recipe.profile_for("emul32/x86_64")
    assert profile is not None and profile.build == "new\nold"


def test_control_file_names_missing_packages(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe(RECIPE)
    (path.parent / "control.kdl").write_text("append { packages { nope { rundeps { y } } } }\n")
    with pytest.raises(
        RecipeError, match="sub-package nope in append block does not exist in recipe"
    ):
        load_recipe(path)

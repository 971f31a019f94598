from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.errors import RecipeError
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


def test_control_file_reads_all_of_kdl(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe(RECIPE)
    (path.parent / "control.kdl").write_text(
        'override { check ""; /-setup "x" }\n// note\nappend {\n  builddeps { "binary(b)"; c }\n'
        '  setup """\n    one\n      two\n    """\n}\n'
        'prepend { (script)build #"raw \\n"# /* c */ }\n'
    )
    recipe = load_recipe(path).recipe
    assert recipe.check == ""
    assert recipe.builddeps == ("a", "binary(b)", "c")
    assert recipe.setup == "s\none\n  two"
    profile = recipe.profile_for("emul32/x86_64")
    assert profile is not None


def test_control_file_errors_name_the_file_and_line(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe(RECIPE)
    control = path.parent / "control.kdl"
    control.write_text("append {\n  setup 12\n}\n")
    with pytest.raises(
        RecipeError, match=r"control.kdl:2: append setup: expected a string, got 12$"
    ):
        load_recipe(path)
    control.write_text('append {\n  setup "open\n}\n')
    with pytest.raises(
        RecipeError, match=r"control.kdl:2: cannot read control file: newline inside"
    ):
        load_recipe(path)


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

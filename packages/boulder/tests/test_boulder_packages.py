from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.errors import UnknownMacroError
from boulder.macros.load import MacroSet
from boulder.packages import CollectionRule, plan_packages
from boulder.recipe.load import load_recipe


def test_templates_in_order(write_recipe: Callable[[str], Path], macros: MacroSet) -> None:
    plan = plan_packages(load_recipe(write_recipe("summary: Hello tool\n")), macros)
    names = [p.name for p in plan.packages]
    assert names == [
        "hello", "hello-docs", "hello-devel", "hello-dbginfo", "hello-libs", "hello-32bit",
        "hello-32bit-devel", "hello-32bit-dbginfo", "hello-demos",
    ]  # fmt: skip
    devel = plan.get("hello-devel")
    assert devel is not None
    assert devel.rundeps == ("hello",)
    assert devel.summary == "Development files for hello"
    assert "/usr/lib/lib*.so" in devel.paths and "/usr/share/vala/vapi/*.vapi" in devel.paths
    bit32 = plan.get("hello-32bit-devel")
    assert bit32 is not None and bit32.rundeps == ("hello-32bit", "hello-devel")
    assert plan.rules[0] == CollectionRule("*", "hello")


def test_recipe_packages_merge_with_templates(
    write_recipe: Callable[[str], Path], macros: MacroSet
) -> None:
    path = write_recipe(
        "summary: Top summary\n"
        "description: Top description\n"
        "rundeps: [extra]\n"
        "paths: [/usr/share/pkgconfig/]\n"
        "packages:\n"
        "  - '%(name)-devel':\n"
        "      rundeps: [zlib-devel]\n"
        "      paths: [/usr/include/extra]\n"
        "  - '%(name)-tools':\n"
        "      summary: Tools for %(name) %(version)\n"
        "      paths: [/usr/bin/tool]\n"
    )
    plan = plan_packages(load_recipe(path), macros)
    devel = plan.get("hello-devel")
    assert devel is not None
    assert devel.rundeps == ("hello", "zlib-devel")
    # The newer entry's summary and description win, and they fall back to the top level.
    assert (devel.summary, devel.description) == ("Top summary", "Top description")
    assert devel.paths == tuple(sorted(devel.paths)) and "/usr/include/extra" in devel.paths
    main = plan.get("hello")
    assert main is not None and main.rundeps == ("extra",)
    tools = plan.get("hello-tools")
    assert tools is not None and tools.summary == "Tools for hello 1.0"
    # Later rules win: the recipe's own come after the templates.
    assert plan.rules[-3:] == (
        CollectionRule("/usr/share/pkgconfig/", "hello"),
        CollectionRule("/usr/include/extra", "hello-devel"),
        CollectionRule("/usr/bin/tool", "hello-tools"),
    )
    assert [p.name for p in plan.packages].count("hello-devel") == 1


def test_package_fields_know_only_name_version_release(
    write_recipe: Callable[[str], Path], macros: MacroSet
) -> None:
    path = write_recipe("packages:\n  - '%(name)-x':\n      summary: in %(libdir)\n")
    with pytest.raises(UnknownMacroError) as info:
        plan_packages(load_recipe(path), macros)
    assert str(info.value) == f"{path}:7: package %(name)-x: undefined definition libdir"

"""Collection globs (Rust `glob` semantics) and rule order, against the real package plan."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.build.collect import glob_matches, package_for, rule_matches, walk_install_root
from boulder.macros.load import MacroSet
from boulder.packages import plan_packages
from boulder.recipe.load import load_recipe


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("/usr/lib/lib*.so", "/usr/lib/libfoo.so", True),
        ("/usr/lib/lib*.so", "/usr/lib/libv4l/plugins/x.so", True),  # `*` crosses `/`
        ("/usr/lib/lib*.so", "/usr/lib/libfoo.so.1", False),
        ("/usr/lib/?.a", "/usr/lib/x.a", True),
        ("/usr/lib/[ab].a", "/usr/lib/b.a", True),
        ("/usr/lib/[!ab].a", "/usr/lib/b.a", False),
        ("/usr/**/x", "/usr/x", True),
        ("/usr/**/x", "/usr/a/b/x", True),
        ("/usr/share/**", "/usr/share/a/b", True),
        ("/usr/a**", "/usr/abc", False),  # `**` not a whole component: matches nothing
        ("/usr/[ab", "/usr/[ab", False),  # unclosed class: matches nothing
        ("*", "/etc/x.conf", True),
    ],
)
def test_glob_semantics(glob: str, path: str, expected: bool) -> None:
    assert glob_matches(glob, path) is expected


def test_rule_takes_everything_below_a_directory() -> None:
    assert rule_matches("/usr/include", "/usr/include/foo/bar.h")
    assert rule_matches("/usr/share/pkgconfig/", "/usr/share/pkgconfig/x.pc")
    assert not rule_matches("/usr/include", "/usr/includes/x.h")


def test_last_added_rule_wins(write_recipe: Callable[[str], Path], macros: MacroSet) -> None:
    path = write_recipe(
        "paths:\n  - /usr/share/pkgconfig/\n"
        "packages:\n  - '%(name)-extra':\n      paths:\n        - /usr/include/extra\n"
    )
    rules = plan_packages(load_recipe(path), macros).rules
    assert package_for(rules, "/usr/include/extra/x.h") == "hello-extra"
    assert package_for(rules, "/usr/include/hello.h") == "hello-devel"
    assert package_for(rules, "/usr/share/pkgconfig/hello.pc") == "hello"
    assert package_for(rules, "/usr/lib/libfoo/plug.so") == "hello-devel"
    assert package_for(rules, "/usr/lib/libfoo.so.1") == "hello"
    assert package_for(rules, "/usr/lib/debug/.build-id/ab/cd.debug") == "hello-dbginfo"


def test_walk_is_sorted_depth_first_without_default_directories(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/b").write_text("b")
    (tmp_path / "usr/bin/a").write_text("a")
    os.symlink("a", tmp_path / "usr/bin/c")
    (tmp_path / "usr/share/empty").mkdir(parents=True)
    (tmp_path / "usr/lib/private").mkdir(parents=True, mode=0o700)
    (tmp_path / "usr/lib/private").chmod(0o700)
    (tmp_path / "usr/lib/private/x").write_text("x")
    walked = [(p.path, p.link_target) for p in walk_install_root(tmp_path)]
    assert walked == [
        ("/usr/bin/a", None),
        ("/usr/bin/b", None),
        ("/usr/bin/c", "a"),
        ("/usr/lib/private/x", None),
        ("/usr/lib/private", None),
        ("/usr/share/empty", None),
    ]

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.macros.load import bundled_data_dir
from boulder.script import MAX_EXPANSION

from .conftest import run


def test_check_reports_each_recipe(
    write_recipe: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_recipe("build: '%make'\n")
    bad = tmp_path / "bad" / "stone.yaml"
    bad.parent.mkdir()
    bad.write_text(good.read_text().replace("'%make'", "'%frobnicate'"))
    code, out, err = run(capsys, "recipe", "check", str(good), str(bad.parent))
    assert code == 1
    assert out.splitlines() == [f"{good}: ok"]
    assert err.splitlines() == [f"{bad}:6: build (x86_64): undefined action frobnicate"]


def test_check_all_good_exits_zero(
    write_recipe: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "recipe", "check", str(write_recipe("")))[0] == 0


def test_show_prints_the_exact_script(
    write_recipe: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_recipe("install: '%make_install'\n")
    code, out, _ = run(capsys, "recipe", "show", str(path), "--phase", "install", "-j", "3")
    assert code == 0
    assert out.startswith("#!/usr/bin/bash\n")
    assert out.endswith('\nmake VERBOSE=1 -j "3" install DESTDIR="/mason/install"\n')


def test_show_all_phases_has_headers(
    write_recipe: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_recipe("build: b\ninstall: i\n")
    _, out, _ = run(capsys, "recipe", "show", str(path))
    headers = [line for line in out.splitlines() if line.startswith("### ")]
    assert headers == [
        "### target=x86_64 stage=NONE phase=build",
        "### target=x86_64 stage=NONE phase=install",
    ]


def test_user_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recipe", "show", str(tmp_path / "missing.yaml"))
    assert code == 1 and out == ""
    assert err == f'boulder: error: recipe file does not exist: "{tmp_path}/missing.yaml"\n'


def test_invalid_recipe_error(
    write_recipe: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_recipe("strip: on\nbuild: b\n")
    code, _, err = run(capsys, "recipe", "show", str(path))
    assert code == 1
    assert err == f"boulder: error: {path}:6: strip: invalid boolean: expected true or false\n"


def test_macros_listing_and_lookup(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "recipe", "macros")
    assert code == 0
    lines = out.splitlines()
    assert any(line.startswith("%cmake_build ") for line in lines)
    assert any(
        line.startswith("%(libdir) ") and "%(prefix)/lib%(libsuffix)" in line for line in lines
    )
    code, out, _ = run(capsys, "macros", "%patch")
    assert code == 0 and out.startswith("%patch - Apply a patch")
    assert "Example:\n%patch %(pkgdir)/fix-build.patch" in out


def test_macros_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "recipe", "macros", "--json", "%(libdir)")
    assert code == 0
    [entry] = json.loads(out)
    assert entry["kind"] == "definition" and entry["text"] == "%(prefix)/lib%(libsuffix)"


def test_unknown_macro_lookup(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "recipe", "macros", "nope")
    assert code == 1 and err == "boulder: error: Macro doesn't exist: nope\n"


def test_bump_keeps_everything_else(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "# comment stays\n"
        "name        : hello\n"
        'version     : "1.0"\n'
        "release     : 9    # trailing comment\n"
        "homepage    : https://example.com\n"
        "license     :\n"
        "    - MIT\n"
    )
    path = tmp_path / "stone.yaml"
    path.write_text(text)
    code, out, _ = run(capsys, "bump", str(tmp_path))
    assert code == 0
    assert out == f"{path}: hello release updated from 9 to 10\n"
    assert path.read_text() == text.replace("release     : 9", "release     : 10")
    run(capsys, "recipe", "bump", str(path), "-n", "42")
    assert "release     : 42    # trailing" in path.read_text()


def test_packages_listing(
    write_recipe: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_recipe("summary: Hi\npackages:\n  - '%(name)-extra':\n      paths: [/usr/x]\n")
    code, out, _ = run(capsys, "recipe", "packages", str(path))
    assert code == 0
    assert out.startswith("hello: Hi\n  *\nhello-docs: Documentation for hello\n")
    assert out.endswith("hello-extra: Hi\n  /usr/x\n")
    code, out, _ = run(capsys, "recipe", "packages", "--json", str(path))
    devel = next(p for p in json.loads(out) if p["name"] == "hello-devel")
    assert devel["rundeps"] == ["hello"] and "/usr/include" in devel["paths"]


def test_a_macro_bomb_is_one_error_naming_recipe_line_and_macro(
    write_recipe: Callable[[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    shutil.copytree(bundled_data_dir(), data)
    tiers = ["    - e0: " + "x" * 99]
    tiers += [f'    - e{n}: "{f"%(e{n - 1})" * 10}"' for n in range(1, 9)]
    (data / "macros" / "actions" / "bomb.yaml").write_text("definitions:\n" + "\n".join(tiers))
    path = write_recipe("build: |\n  echo start\n  echo %(e8)\n")
    code, out, err = run(capsys, "--data-dir", str(data), "recipe", "check", str(path))
    assert code == 1 and out == ""
    assert err == (
        f"{path}:8: build (x86_64): %(e8): macro expansion larger than {MAX_EXPANSION}"
        " bytes (the limit, reached in %(e6))\n"
    )


def test_schema_errors_are_in_the_projects_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "stone.yaml"
    recipe.write_text(
        "name: hello\nversion: 1.0\nrelease: one\nsummary: s\nlicense: MIT\n"
        "homepage: h\ndescription: d\nupstreams: []\n"
    )
    code, out, err = run(capsys, "recipe", "check", str(recipe))
    assert code == 1 and out == ""
    assert err == f'{recipe}:3: release: expected a whole number, found "one"\n'

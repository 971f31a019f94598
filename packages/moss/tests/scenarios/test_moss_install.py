"""Installing from local files into scratch roots: the acceptance scenarios that need no HTTP."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from moss_roots import moss_argv, moss_env
from stone_bombs import GiB, assert_refused_in_one_line, bomb, run_limited

from stone import FileKind, PayloadKind, StoneReader, file_digest

from .helpers import MossRun, make_stone


def _ab(packages: Path) -> tuple[Path, Path]:
    a = make_stone(
        packages, "a", {"bin/a": b"#!/bin/sh\necho a\n"}, depends=["soname(libb.so.1(x86_64))"]
    )
    b = make_stone(
        packages,
        "b",
        {"lib/libb.so.1": b"\x7fELF fake library"},
        provides=["soname(libb.so.1(x86_64))"],
    )
    return a, b


def test_empty_root_has_the_skeleton_and_no_packages(root: Path, moss: MossRun) -> None:
    result = moss("list", "installed")
    assert result.code == 0 and result.out == "" and result.err == "No packages\n"
    assert moss("list", "installed", "--json").out.strip() == "[]"
    # Queries leave the root as they found it.
    for query in (("state", "list"), ("search", "x"), ("repo", "list"), ("list", "available")):
        assert moss(*query).code == 0, query
    assert list(root.iterdir()) == []
    assert moss("install", str(make_stone(root.parent, "x", {"share/x": b"x"}))).code == 0
    for path in (
        "db/install",
        "db/layout",
        "db/state",
        "cache/CACHEDIR.TAG",
        "assets",
        "repo",
        "root/staging",
        "root/isolation",
        ".moss-lockfile",
    ):
        assert (root / ".moss" / path).exists(), path


def test_invalid_root_is_one_line(tmp_path: Path, moss: MossRun) -> None:
    from click.testing import CliRunner

    from moss.cli import main

    result = CliRunner().invoke(main, ["-D", str(tmp_path / "nope"), "list", "installed"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "nope: root does not exist" in result.stderr
    (tmp_path / "file").touch()
    result = CliRunner().invoke(main, ["-D", str(tmp_path / "file"), "list", "installed"])
    assert result.exit_code == 1 and "file: root is not a directory" in result.stderr


def test_install_with_pull_in(root: Path, packages: Path, moss: MossRun) -> None:
    a, b = _ab(packages)
    result = moss("install", str(a), str(b))
    assert result.code == 0, result.text
    assert "Installed a" in result.out and "Installed b" in result.out
    assert re.search(r"^\d+ entries blitted in \d+\.\d\ds \(\d+\.\dk / s\)$", result.out, re.M)
    assert (root / "usr/.stateID").read_text().strip() == "1"
    assert (root / "usr/bin/a").read_bytes() == b"#!/bin/sh\necho a\n"
    assert os.readlink(root / "bin") == "usr/bin"
    assert (root / "usr/lib/os-release").exists()
    listed = moss("list", "installed", "--json")
    flags = {p["name"]: p["explicit"] for p in json.loads(listed.out)}
    assert flags == {"a": True, "b": True}


def test_dependency_pulled_from_a_local_file_only_when_given(packages: Path, moss: MossRun) -> None:
    a, _b = _ab(packages)
    result = moss("install", str(a))
    assert result.code == 1
    assert "nothing provides soname(libb.so.1(x86_64)) (needed by a)" in result.err
    assert result.err.count("\n") == 1


def test_store_is_shared_and_read_only(root: Path, packages: Path, moss: MossRun) -> None:
    a, b = _ab(packages)
    assert moss("install", str(a), str(b)).code == 0
    installed = root / "usr/bin/a"
    digest = file_digest(str(installed))
    name = f"{digest:x}"
    asset = root / ".moss/assets/v2" / name[:2] / name[2:4] / name[4:6] / name
    assert installed.stat().st_ino == asset.stat().st_ino
    assert not stat.S_IMODE(installed.stat().st_mode) & 0o222
    assert not list((root / ".moss/cache").glob("content/*"))


def test_real_bash_completion_installs_byte_for_byte(
    root: Path, moss: MossRun, corpus: Path
) -> None:
    package = corpus / "stones/bash-completion-2.11-1-1-x86_64.stone"
    result = moss("install", str(package))
    assert result.code == 0, result.text
    with StoneReader(package) as reader:
        layout = reader.layout()
    for entry in layout:
        path = root / "usr" / entry.path
        if entry.kind is FileKind.REGULAR:
            assert file_digest(str(path)) == entry.digest, entry.path
        elif entry.kind is FileKind.SYMLINK:
            assert os.readlink(path) == entry.link_target


def test_declared_conflicts_are_enforced(root: Path, moss: MossRun, corpus: Path) -> None:
    pizza = corpus / "stones/italian-pizza-1-1-1-x86_64.stone"
    pineapple = corpus / "stones/pineapple-1-1-1-x86_64.stone"
    assert moss("install", str(pineapple)).code == 0
    before = sorted(p.name for p in (root / "usr/share/defaults").iterdir())
    result = moss("install", str(pizza))
    assert result.code == 1
    assert "italian-pizza conflicts with pineapple" in result.err
    assert sorted(p.name for p in (root / "usr/share/defaults").iterdir()) == before
    assert (root / "usr/.stateID").read_text().strip() == "1"


def test_path_conflict_is_an_error_and_changes_nothing(
    root: Path, packages: Path, moss: MossRun
) -> None:
    one = make_stone(packages, "one", {"share/x": b"one"})
    two = make_stone(packages, "two", {"share/x": b"two"})
    assert moss("install", str(one)).code == 0
    result = moss("install", str(two))
    assert result.code == 1
    assert "/usr/share/x" in result.err and "one" in result.err and "two" in result.err
    assert (root / "usr/share/x").read_bytes() == b"one"
    assert [s["id"] for s in json.loads(moss("state", "list", "--json").out)] == [1]


def test_already_installed_and_unknown(packages: Path, moss: MossRun) -> None:
    c = make_stone(packages, "c")
    assert moss("install", str(c)).code == 0
    again = moss("install", str(c))
    assert again.code == 0
    assert "already installed" in again.out
    unknown = moss("install", "nope")
    assert unknown.code == 1 and "no package found: nope" in unknown.err


def test_dry_run_and_no_terminal(root: Path, packages: Path, moss: MossRun) -> None:
    c = make_stone(packages, "c")
    dry = moss("install", "--dry-run", str(c))
    assert dry.code == 0 and "will be installed" in dry.out
    assert not (root / "usr/.stateID").exists()
    refused = moss("install", str(c), yes=False)
    assert refused.code == 1 and "pass -y" in refused.err
    assert not (root / "usr/.stateID").exists()


def test_cascade_remove_orphans_and_cached_reinstall(
    root: Path, packages: Path, moss: MossRun
) -> None:
    a, b = _ab(packages)
    c = make_stone(packages, "c")
    assert moss("install", str(a), str(b), str(c)).code == 0
    removed = moss("remove", "b")
    assert removed.code == 0, removed.text
    assert "Removed a" in removed.out and "Removed b" in removed.out
    assert not (root / "usr/bin/a").exists()
    assert (root / "usr/share/c/README").exists()
    again = moss("install", str(a), str(b))
    assert "Installed a (cached)" in again.out
    missing = moss("remove", "nope")
    assert missing.code == 1 and "not installed: nope" in missing.err


def test_remove_drops_dependencies_nothing_else_needs(
    root: Path, packages: Path, moss: MossRun
) -> None:
    lib = make_stone(packages, "lib", {"lib/libz.so": b"z"}, provides=["soname(libz.so(x86_64))"])
    app = make_stone(packages, "app", {"bin/app": b"app"}, depends=["soname(libz.so(x86_64))"])
    assert moss("install", str(app), str(lib)).code == 0
    # Installing only the app explicitly marks lib as a dependency when pulled through a repo;
    # here both were named, so both are explicit and removing app keeps lib.
    assert moss("remove", "app").code == 0
    assert (root / "usr/lib/libz.so").exists()


def test_rollback_and_ids_never_reused(root: Path, packages: Path, moss: MossRun) -> None:
    c = make_stone(packages, "c", {"share/c/data": b"c"})
    d = make_stone(packages, "d", {"share/d/data": b"d"})
    assert moss("install", str(c)).code == 0
    assert moss("install", str(d)).code == 0
    assert moss("remove", "c").code == 0
    assert not (root / "usr/share/c").exists()
    activated = moss("state", "activate", "2")
    assert activated.code == 0 and "State 2 activated (3 archived)" in activated.out
    assert (root / "usr/share/c/data").read_bytes() == b"c"
    assert (root / "usr/.stateID").read_text().strip() == "2"
    assert (root / ".moss/root/3/usr").is_dir() and not (root / ".moss/root/2").exists()
    assert "already active" in moss("state", "activate", "2").err
    assert "doesn't exist" in moss("state", "activate", "99").err
    # Without -y and without a terminal, a rollback is refused as every other change is.
    refused = moss("state", "activate", "3", yes=False)
    assert refused.code == 1 and "terminal" in refused.err
    assert (root / "usr/.stateID").read_text().strip() == "2"
    assert moss("install", str(make_stone(packages, "e"))).code == 0
    assert (root / "usr/.stateID").read_text().strip() == "4"


def test_prune_keeps_the_newest(root: Path, packages: Path, moss: MossRun) -> None:
    for name in "pqrst":
        assert (
            moss("install", str(make_stone(packages, name, {f"share/{name}": name.encode()}))).code
            == 0
        )
    pruned = moss("state", "prune", "-k", "3")
    assert pruned.code == 0 and "Removed states #1, #2" in pruned.out
    assert "No states to remove" in moss("state", "prune", "-k", "3").out
    ids = [s["id"] for s in json.loads(moss("state", "list", "--json").out)]
    assert ids == [3, 4, 5]
    assert not (root / ".moss/root/1").exists() and not (root / ".moss/root/2").exists()
    assert (root / ".moss/root/3/usr").is_dir()
    refused = moss("state", "remove", "5")
    assert refused.code == 1 and "currently active" in refused.err
    for unknown, named in (("0", "0"), ("6-8", "6, 7, 8")):
        missing = moss("state", "remove", unknown)
        assert missing.code == 1 and f"no such state: {named}" in missing.err
    assert (root / ".moss/root/4/usr").is_dir()
    removed = moss("state", "remove", "3-4")
    assert removed.code == 0 and "Removed states #3, #4" in removed.out
    assert [s["id"] for s in json.loads(moss("state", "list", "--json").out)] == [5]
    assert (root / ".moss/assets/.read-only-assets").exists()
    # Everything state 5 uses is still in the store.
    assert moss("state", "verify").out.strip().endswith("No issues found")


def test_verify_repairs_a_missing_asset(root: Path, packages: Path, moss: MossRun) -> None:
    c = make_stone(packages, "c", {"share/c/data": b"precious"})
    assert moss("install", str(c)).code == 0
    digest = file_digest(str(root / "usr/share/c/data"))
    name = f"{digest:x}"
    (root / ".moss/assets/v2" / name[:2] / name[2:4] / name[4:6] / name).unlink()
    repaired = moss("state", "verify")
    assert repaired.code == 0, repaired.text
    for line in (
        "Missing asset",
        "Reinstalling packages",
        "Reblitting affected states",
        "All issues resolved",
    ):
        assert line in repaired.out
    assert (root / "usr/share/c/data").read_bytes() == b"precious"
    assert moss("state", "verify").out.strip().endswith("No issues found")


def test_interrupted_leftovers_are_cleaned(root: Path, packages: Path, moss: MossRun) -> None:
    junk = root / ".moss/root/staging/usr/junk"
    junk.parent.mkdir(parents=True)
    junk.write_text("junk")
    assert moss("install", str(make_stone(packages, "c"))).code == 0
    assert not junk.exists()


def test_a_corrupt_local_package_is_named_as_given(
    root: Path, packages: Path, moss: MossRun
) -> None:
    package = make_stone(packages, "broken", {"share/broken/data": b"x" * 4096})
    data = bytearray(package.read_bytes())
    data[-5] ^= 0xFF  # inside the content payload
    package.write_bytes(bytes(data))
    result = moss("install", str(package))
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert f"broken: {package}: payload" in result.err and ".moss/cache" not in result.err
    assert not (root / "usr/share/broken").exists()


@pytest.mark.parametrize("kind", [PayloadKind.META, PayloadKind.LAYOUT], ids=lambda k: k.text)
def test_install_of_a_1_gib_bomb_is_one_line_under_a_1_gib_limit(
    root: Path, packages: Path, kind: PayloadKind
) -> None:
    package = make_stone(packages, "victim")
    target = packages / "bomb.stone"
    target.write_bytes(bomb(package.read_bytes(), kind, GiB))
    result = run_limited(moss_argv(root, "-y", "install", str(target)), env=moss_env())
    assert_refused_in_one_line(result, target, kind)
    assert not (root / "usr").exists() or not any((root / "usr").iterdir())

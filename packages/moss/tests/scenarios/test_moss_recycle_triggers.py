"""Recycled trees with transaction triggers: the triggers whose inputs changed run again, the
outputs of those that no longer apply go, and the tree is the one a fresh install gives."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from stamp_handler import build_stamp, stamp_trigger

from moss_core.container import namespaces_available
from moss_core.trigger_record import RECORD_FILE

from .helpers import MossRun, make_stone


@pytest.fixture(autouse=True)
def _containers() -> None:
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"trigger isolation needs namespaces: {reason}")


@pytest.fixture(scope="module")
def stamp(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build a static trigger handler")
    return build_stamp(tmp_path_factory.mktemp("stamp"))


def _tool(packages: Path, stamp: bytes, version: str, out: str) -> Path:
    return make_stone(
        packages,
        "tool",
        {
            "bin/stamp": stamp,
            **stamp_trigger(
                "stamps",
                [
                    f"/usr/share/{out}",
                    f"/usr/share/{out}/$(flavour)",
                    "/usr/share/flavours/$(flavour)",
                ],
                "/usr/share/flavours/(flavour:*)",
            ),
            # Reads what `stamps` wrote: ordered after it, it runs again whenever `stamps` does.
            **stamp_trigger(
                "index",
                ["/usr/share/index", "/usr/share/index/all", f"/usr/share/{out}/sweet"],
                "/usr/share/flavours/*",
                after="stamps",
            ),
        },
        version=version,
    )


def _tree(usr: Path) -> dict[str, tuple[int, str]]:
    found = {}
    for directory, dirs, files in os.walk(usr):
        for name in dirs + files:
            path = Path(directory) / name
            relative = str(path.relative_to(usr))
            if relative in (".stateID", RECORD_FILE):
                continue
            info = path.lstat()
            text = os.readlink(path) if path.is_symlink() else ""
            if path.is_file() and not path.is_symlink():
                text = path.read_text(errors="replace")
            found[relative] = (info.st_mode, text)
    return found


def test_recycled_trees_with_triggers_match_fresh_installs(
    root: Path, packages: Path, moss: MossRun, tmp_path: Path, stamp: bytes
) -> None:
    tool = _tool(packages, stamp, "1", "stamps")
    sweet = make_stone(packages, "sweet", {"share/flavours/sweet": "s1\n"})
    sour = make_stone(packages, "sour", {"share/flavours/sour": "o1\n"})
    other = make_stone(packages, "other", {"share/other/file": "x\n"})
    base = make_stone(packages, "base", {"share/base/file": "b\n"})
    # Two archived trees (states 1 and 2), so that every later transaction recycles one.
    for step in (
        ("install", str(tool), str(sweet)),
        ("install", str(base)),
        ("install", str(other)),
    ):
        assert moss(*step).code == 0
    installed = {"tool": tool, "sweet": sweet, "base": base, "other": other}

    def check(step: tuple[str, ...], reruns: bool) -> None:
        result = moss(*step)
        assert result.code == 0, result.text
        assert "the tree of state #" in result.out, result.out
        assert ("Running transaction triggers" in result.out) is reruns, result.out
        fresh = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
        fresh.mkdir()
        made = moss("-D", str(fresh), "install", *map(str, installed.values()))
        assert made.code == 0, made.text
        assert _tree(root / "usr") == _tree(fresh / "usr")
        if "tool" in installed:
            record = json.loads((root / "usr" / RECORD_FILE).read_text())
            assert record["state"] == int((root / "usr/.stateID").read_text())
        else:  # no trigger file, nothing to record
            assert not (root / "usr" / RECORD_FILE).exists()

    installed["sour"] = sour
    check(("install", str(sour)), reruns=True)  # an input added
    assert (root / "usr/share/stamps/sour").read_text() == "/usr/share/flavours/sour:o1\n\n"
    installed.pop("sweet")
    check(("remove", "sweet"), reruns=True)  # an input removed: its output goes
    assert not (root / "usr/share/stamps/sweet").exists()
    installed["sweet"] = make_stone(
        packages, "sweet", {"share/flavours/sweet": "s2\n"}, version="2"
    )
    check(("install", str(installed["sweet"])), reruns=True)  # an input changed
    assert (root / "usr/share/stamps/sweet").read_text() == "/usr/share/flavours/sweet:s2\n\n"
    # Each transaction starts from the tree of three states back: the first two below still
    # meet sweet 1 or no sweet there; the third starts from the tree that has sweet 2.
    installed.pop("base")
    check(("remove", "base"), reruns=True)
    installed["base"] = base
    check(("install", str(base)), reruns=True)
    installed.pop("base")
    check(("remove", "base"), reruns=False)  # no input touched: nothing runs again
    installed["tool"] = _tool(packages, stamp, "2", "stamps2")
    check(("install", str(installed["tool"])), reruns=True)  # the trigger file changed
    assert not (root / "usr/share/stamps").exists()
    installed.pop("tool")
    check(("remove", "tool"), reruns=False)  # the triggers are gone, and their outputs
    assert not (root / "usr/share/stamps2").exists()
    assert not (root / "usr/share/index").exists()
    assert moss("state", "verify").out.strip().endswith("No issues found")

    # State 1 (tool and sweet 1) gave its tree away: made live again, it is blitted afresh
    # and its transaction triggers run on it.
    assert (root / ".moss/root/1/recycled").exists()
    activated = moss("state", "activate", "1")
    assert activated.code == 0, activated.text
    fresh = tmp_path / "fresh-state-1"
    fresh.mkdir()
    assert moss("-D", str(fresh), "install", str(tool), str(sweet)).code == 0
    assert _tree(root / "usr") == _tree(fresh / "usr")
    assert json.loads((root / "usr" / RECORD_FILE).read_text())["state"] == 1


def test_a_tree_whose_outputs_changed_is_not_recycled(
    root: Path, packages: Path, moss: MossRun, stamp: bytes
) -> None:
    tool = _tool(packages, stamp, "1", "stamps")
    sweet = make_stone(packages, "sweet", {"share/flavours/sweet": "s1\n"})
    other = make_stone(packages, "other", {"share/other/file": "x\n"})
    third = make_stone(packages, "third", {"share/third/file": "x\n"})
    for step in (("install", str(tool), str(sweet)), ("install", str(other)), ("remove", "other")):
        assert moss(*step).code == 0
    # States 1 and 2 are archived; an output in each no longer is what its record says.
    (root / ".moss/root/1/usr/share/stamps/sweet").write_text("tampered, and longer\n")
    (root / ".moss/root/2/usr/share/index/all").unlink()
    result = moss("install", str(third))
    assert result.code == 0, result.text
    assert "the tree of state #" not in result.out
    assert (root / "usr/share/stamps/sweet").read_text() == "/usr/share/flavours/sweet:s1\n\n"

"""SIGKILL at every step of a transaction and an activation: the next run finds the root wholly
in the old or the new state, repairs the rest, and `state verify` is clean."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import MossRun, make_stone, run_moss_process

DRIVER = Path(__file__).with_name("crash_driver.py")

TRANSACTION_POINTS = [
    ("store-rename", 1),
    ("store-rename", 2),
    ("blit-mkdir", 2),
    ("blit-link", 1),
    ("blit-link", 2),
    ("blit_staging", 0),
    ("write_state_files", 0),
    ("record_state", 0),
    ("journal", 0),
    ("exchange", 0),
    ("archive_staging", 0),
    ("make_root_links", 0),
]


def _killed(root: Path, point: str, count: int, *args: str) -> None:
    process = subprocess.run(
        [sys.executable, str(DRIVER), point, str(count), "--", "-D", str(root), "-y", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, (point, process.returncode, process.stderr)


def _state_ids(moss: MossRun) -> list[int]:
    return [s["id"] for s in json.loads(moss("state", "list", "--json").out)]


def _files(root: Path) -> set[str]:
    return (
        {p.name for p in (root / "usr/share").iterdir()} if (root / "usr/share").is_dir() else set()
    )


@pytest.mark.parametrize(("point", "count"), TRANSACTION_POINTS)
def test_killed_install_leaves_old_or_new_state(
    root: Path, packages: Path, moss: MossRun, point: str, count: int
) -> None:
    first = make_stone(
        packages, "first", {"share/first": b"1", "share/more/one": b"x", "share/more/two": b"y"}
    )
    second = make_stone(packages, "second", {"share/second": b"2", "share/other/three": b"z"})
    assert moss("install", str(first)).code == 0
    _killed(root, point, count, "install", str(second))
    after = run_moss_process(root, "-y", "state", "verify")
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip().endswith("No issues found"), after.stdout
    active = (root / "usr/.stateID").read_text().strip()
    if active == "1":
        assert _state_ids(moss) == [1]
        assert _files(root) == {"first", "more"}
    else:
        assert active == "2"
        assert _state_ids(moss) == [1, 2]
        assert _files(root) == {"first", "more", "second", "other"}
        assert (root / ".moss/root/1/usr/share/first").exists()
    assert not (root / ".moss/root/staging/usr").exists()
    assert moss("install", str(second)).code == 0
    assert _files(root) == {"first", "more", "second", "other"}


@pytest.mark.parametrize("point", ["journal", "exchange", "archive_staging"])
def test_killed_activation_leaves_old_or_new_state(
    root: Path, packages: Path, moss: MossRun, point: str
) -> None:
    assert moss("install", str(make_stone(packages, "first"))).code == 0
    assert moss("install", str(make_stone(packages, "second"))).code == 0
    _killed(root, point, 0, "state", "activate", "1")
    after = run_moss_process(root, "-y", "state", "verify")
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip().endswith("No issues found"), after.stdout
    assert _state_ids(moss) == [1, 2]
    active = (root / "usr/.stateID").read_text().strip()
    other = "2" if active == "1" else "1"
    assert (root / f".moss/root/{other}/usr/.stateID").read_text().strip() == other

"""`summit build` end to end on real LocalCluster workers (127.0.0.1, two workers, builder=1)
with the fake builder: order, publication a polling reader sees whole, failures, resume."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from moss_core.fs import sha256_file
from stone import FileType, StoneReader

from .conftest import Toy, kill_group, run_group, write_recipe

pytestmark = pytest.mark.slow


def _rows(toy: Toy) -> dict[str, tuple[str, int, float | None, float | None]]:
    db_uri = f"file:{toy.out / '.summit' / 'state.db'}?mode=ro"
    with sqlite3.connect(db_uri, uri=True) as db:
        rows = db.execute("SELECT name, status, attempt, started, ended FROM task")
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


def _read_published(out: Path) -> set[str] | None:
    """What a client sees: root index → snapshot index → every package, size and sha256
    checked. None while nothing is published yet."""
    root = out / "main" / "moss-root-index.json"
    if not root.exists():
        return None
    history = json.loads(root.read_text())["streams"]["volatile"]["history"]
    base = out / "main" / "history" / history / "x86_64"
    with StoneReader(base / "stone.index") as reader:
        reader.expect(FileType.REPOSITORY)
        metas = reader.metas()
    for meta in metas:
        assert meta.uri is not None
        package = base / meta.uri
        assert package.stat().st_size == meta.download_size
        assert sha256_file(package) == meta.hash
    return {m.name for m in metas}


def test_diamond_in_order_published_atomically_and_not_rebuilt(toy: Toy) -> None:
    for slow in ("left", "right"):
        (toy.recipes / slow[0] / slow / "sleep").write_text("3")
    broken = toy.recipes / "z" / "zbroken"
    broken.mkdir(parents=True)
    (broken / "stone.yaml").write_text("name: zbroken\nversion: [1\n")
    git = ["git", "-C", str(toy.recipes), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "recipes"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    seen: list[set[str]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                names = _read_published(toy.out)
            except BaseException as err:
                errors.append(err)
                return
            if names is not None and (not seen or seen[-1] != names):
                seen.append(names)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        result = toy.run()
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert result.returncode == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    assert len(problems) == 1 and "zbroken/stone.yaml:" in problems[0], result.stderr
    assert seen[-1] == {"base", "left", "right", "top", "solo"}
    assert all(a <= b for a, b in itertools.pairwise(seen))
    rows = _rows(toy)
    assert all(r[0] == "published" for r in rows.values())
    edges = [("left", "base"), ("right", "base"), ("top", "left"), ("top", "right")]
    for dependent, dependency in edges:
        assert rows[dependency][3] <= rows[dependent][2]  # type: ignore[operator]
    left, right = rows["left"], rows["right"]
    assert left[2] < right[3] and right[2] < left[3]  # type: ignore[operator]
    assert sorted(toy.builds()) == ["base", "left", "right", "solo", "top"]
    with sqlite3.connect(toy.out / ".summit" / "state.db") as db:
        commits = {r[0] for r in db.execute("SELECT built_commit FROM task")}
    assert commits == {head.strip()}

    (broken / "stone.yaml").unlink()
    again = toy.run()
    assert again.returncode == 0, again.stderr
    assert "started" not in again.stdout
    assert sorted(toy.builds()) == ["base", "left", "right", "solo", "top"]


def test_failure_blocks_only_dependents_and_a_fixed_release_releases_them(toy: Toy) -> None:
    (toy.recipes / "r" / "right" / "fail").write_text("")
    result = toy.run()
    assert result.returncode == 1
    assert "failed: right: builder exited with 2" in result.stderr
    assert "blocked: top: blocked by right_x86_64 (right failed)" in result.stderr
    rows = _rows(toy)
    assert {n: r[0] for n, r in rows.items()} == {
        "base": "published", "left": "published", "solo": "published",
        "right": "failed", "top": "blocked",
    }  # fmt: skip
    assert _read_published(toy.out) == {"base", "left", "solo"}
    log = run_group([sys.executable, "-m", "summit", "log", "--repo", str(toy.out), "right"])
    assert "fake builder: failing as asked" in log.stdout
    retry = run_group([sys.executable, "-m", "summit", "retry", "--repo", str(toy.out), "top"])
    assert retry.stdout == "top: pending\n"
    assert _rows(toy)["top"][0] == "pending"

    (toy.recipes / "r" / "right" / "fail").unlink()
    write_recipe(toy.recipes, "right", ("soname(libbase.so.1(x86_64))",), ("pkgconfig(right)",), 2)
    fixed = toy.run()
    assert fixed.returncode == 0, fixed.stderr
    assert _read_published(toy.out) == {"base", "left", "right", "solo", "top"}
    assert sorted(toy.builds()) == ["base", "left", "right", "solo", "top"]


def test_killed_controller_resumes_without_rebuilding(toy: Toy) -> None:
    for name in ("left", "right", "top"):
        (toy.recipes / name[0] / name / "sleep").write_text("4")
    process = subprocess.Popen(
        toy.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                statuses = [r[0] for r in _rows(toy).values()]
            except sqlite3.Error:  # not created yet
                statuses = []
            if statuses.count("published") >= 2 and "running" in statuses:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the controller never had builds published and running at once")
    finally:
        kill_group(process.pid)
        process.wait()
    before = _rows(toy)
    published = {n for n, r in before.items() if r[0] == "published"}
    running = {n for n, r in before.items() if r[0] == "running"}
    built_before = toy.builds()

    result = toy.run()
    assert result.returncode == 0, result.stderr
    after = _rows(toy)
    assert all(r[0] == "published" for r in after.values())
    for name in published:
        assert toy.builds().count(name) == 1 and after[name][1] == before[name][1]
    for name in running:
        assert after[name][1] == before[name][1] + 1
    assert _read_published(toy.out) == {"base", "left", "right", "solo", "top"}
    assert set(built_before) >= published
    with sqlite3.connect(toy.out / ".summit" / "state.db") as db:
        files = [r[0] for r in db.execute("SELECT package FROM output")]
    assert sorted(files) == ["base", "left", "right", "solo", "top"]

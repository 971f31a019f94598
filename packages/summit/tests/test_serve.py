"""`summit serve` end to end: a git repository of toy recipes, real LocalCluster workers, the
fake builder, the queue page rendered by a real headless browser, a commit that bumps a failed
recipe's release rebuilding it and releasing what it blocked, and a clean SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import FAKE_BUILDER, RUN_TIMEOUT, Toy, kill_group, write_recipe

pytestmark = pytest.mark.slow

BROWSERS = ("chromium-headless-shell", "chromium")
BASE = ("soname(libbase.so.1(x86_64))",)
BUILD_SLEEP = "31.7"
SLEEP_CMDLINE = f"sleep\0{BUILD_SLEEP}\0".encode()


def _browser() -> str:
    found = next((b for b in map(shutil.which, BROWSERS) if b), None)
    if found is None:
        pytest.skip("no headless browser: chromium-headless-shell or chromium (test-tools.txt)")
    return found


def _dom(browser: str, url: str, profile: Path) -> str:
    """The DOM the browser built from the page (after parsing, as a user would see it)."""
    command = [browser, "--headless", "--dump-dom", f"--user-data-dir={profile}", url]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # chromium refuses to run as root with its sandbox
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def _get(url: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def _until(what: str, check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def _git(recipes: Path, *args: str) -> None:
    base = ["git", "-C", str(recipes), "-c", "user.name=t", "-c", "user.email=t@e"]
    subprocess.run([*base, *args], check=True, capture_output=True)


@contextlib.contextmanager
def _serving(toy: Toy) -> Iterator[tuple[subprocess.Popen[str], str, queue.Queue[str]]]:
    command = [
        sys.executable, "-m", "summit", "serve", str(toy.recipes), "--repo", str(toy.out),
        "--workers", "2", "--builder", f"{sys.executable} {FAKE_BUILDER}",
        "--port", "0", "--poll", "0.5",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        first = lines.get(timeout=RUN_TIMEOUT)
        match = re.fullmatch(r"serving (http://127\.0\.0\.1:\d+/)\n", first)
        assert match, first
        yield process, match[1], lines
    finally:
        kill_group(process.pid)
        process.wait()


def _tasks(url: str) -> dict[str, Any]:
    status, body = _get(url + "api/tasks")
    assert status == 200
    data: dict[str, Any] = json.loads(body)
    return data


def _states(url: str) -> dict[str, tuple[str, int]]:
    return {t["name"]: (t["status"], t["release"]) for t in _tasks(url)["tasks"]}


def _rows(dom: str) -> dict[str, str]:
    return dict(
        (name, state) for state, name in re.findall(r'<tr class="(\w+)" data-task="([^"]+)"', dom)
    )


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_serve_rebuilds_a_bumped_release_shows_it_in_a_browser_and_stops_cleanly(
    toy: Toy, tmp_path: Path
) -> None:
    browser = _browser()
    (toy.recipes / "r" / "right" / "fail").write_text("")
    _git(toy.recipes, "init", "-q")
    _git(toy.recipes, "add", "-A")
    _git(toy.recipes, "commit", "-qm", "recipes")
    with _serving(toy) as (process, url, lines):
        first = {"base": "published", "left": "published", "solo": "published",
                 "right": "failed", "top": "blocked"}  # fmt: skip
        _until("the first queue", lambda: {n: s for n, (s, _r) in _states(url).items()} == first)
        dom = _dom(browser, url, tmp_path / "browser")
        assert _rows(dom) == first
        assert "builder exited with 2" in dom and "blocked by right_x86_64" in dom
        dashboard = re.search(r'<a id="dashboard" href="(http://127\.0\.0\.1:\d+/status)"', dom)
        assert dashboard, dom
        assert _get(dashboard[1])[0] == 200  # bokeh makes the Dask dashboard exist
        status, log = _get(url + "log/right")
        assert status == 200 and "fake builder: failing as asked" in log
        assert _get(url + "log/nosuchtask")[0] == 404
        assert _get(url, method="POST")[0] == 405

        (toy.recipes / "r" / "right" / "fail").unlink()
        write_recipe(toy.recipes, "right", BASE, ("pkgconfig(right)",), release=2)
        _git(toy.recipes, "commit", "-qam", "right: fixed, release 2")
        fixed = {"base": ("published", 1), "left": ("published", 1), "solo": ("published", 1),
                 "right": ("published", 2), "top": ("published", 1)}  # fmt: skip
        _until("the bumped release and what it blocked to publish", lambda: _states(url) == fixed)
        dom = _dom(browser, url, tmp_path / "browser")
        assert set(_rows(dom).values()) == {"published"}
        assert re.search(r'data-task="right"><td>right</td><td>1\.0-2</td>', dom), dom
        assert "5 published" in dom
        assert sorted(toy.builds()) == ["base", "left", "right", "solo", "top"]

        # A build running when Ctrl-C reaches the whole process group (workers included).
        (toy.recipes / "s" / "solo" / "sleep").write_text(BUILD_SLEEP)
        write_recipe(toy.recipes, "solo", (), (), release=2)
        _git(toy.recipes, "add", "-A")
        _git(toy.recipes, "commit", "-qm", "solo: release 2, a long build")
        _until("the long build to run", lambda: bool(_sleeping()))
        assert _states(url)["solo"] == ("running", 2)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        assert process.returncode == 0
        said = []
        with contextlib.suppress(queue.Empty):
            while True:
                said.append(lines.get(timeout=5))
        assert "queued: right 1.0-2 (new release)\n" in said
        assert "queued: top (it needs a new release)\n" in said
        assert said[-1] == "stopped\n"
        assert not any("Traceback" in line for line in said), "".join(said)
        _until("every worker and build to be gone", lambda: _group_gone(process.pid), 15)
        _until("the build cut short to be gone", lambda: not _sleeping(), 15)


def _sleeping() -> list[int]:
    """The fake builder's `sleep` of the long build (it runs in a session of its own)."""
    found = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and (proc / "cmdline").read_bytes() == SLEEP_CMDLINE:
                found.append(int(proc.name))
    return found


def test_serve_stops_on_sigterm(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    with _serving(Toy(recipes, tmp_path / "repo")) as (process, url, lines):
        assert _tasks(url) == {"tasks": [], "dashboard": None}
        process.terminate()
        process.wait(timeout=60)
        assert process.returncode == 0
        assert lines.get(timeout=5) == "stopped\n"

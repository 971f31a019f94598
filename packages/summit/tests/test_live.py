"""`summit build` on a terminal (a real pseudo-terminal): the event lines still print, and a
live summary of the queue is drawn below them while builds run."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import termios
import time

import pytest

from summit.live import Summary, counts_line
from summit.queue import Status
from summit.state import TaskRow

from .conftest import RUN_TIMEOUT, Toy, kill_group

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_counts_line_names_every_state() -> None:
    rows = [
        TaskRow(n, "1", 1, n, s, 1, None, None, None, None, None, None)
        for n, s in (("a", Status.RUNNING), ("b", Status.PENDING), ("c", Status.PENDING))
    ]
    assert counts_line(rows) == "1 running · 0 published · 0 failed · 0 blocked · 2 waiting"
    assert Summary(rows).rows == tuple(rows)


def test_build_on_a_tty_draws_a_live_summary(toy: Toy) -> None:
    for name in ("right", "top", "solo"):
        shutil.rmtree(toy.recipes / name[0] / name)
    (toy.recipes / "l" / "left" / "sleep").write_text("2")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS")}
    process = subprocess.Popen(
        toy.command(), stdin=slave, stdout=slave, stderr=slave, env=env | {"TERM": "xterm"},
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal closed: every process holding it ended
                break
            if not data:
                break
            chunks.append(data)
        process.wait(timeout=30)
    finally:
        kill_group(process.pid)
        os.close(master)
    screen = ANSI.sub("", b"".join(chunks).decode(errors="replace"))
    assert process.returncode == 0, screen
    for name in ("base", "left"):
        assert f"started: {name} 1.0-1 (attempt 1)" in screen
        assert f"finished: {name} (published)" in screen
    assert re.search(r"\d running · \d published · 0 failed · 0 blocked · \d waiting", screen)
    assert "building left 1.0-1 (attempt 1" in screen
    assert "summary: 2 published" in screen

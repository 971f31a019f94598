"""Fixtures of the reliability tests, and a summary of the numbers they report."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SHM = Path("/dev/shm")
SHM_NEEDED = 512 << 20


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A scratch directory in memory (`/dev/shm`) when there is room, else `tmp_path`.

    The crash tests kill processes, not machines: the page cache survives a SIGKILL, so what
    they check does not depend on the disk, and on tmpfs the fsyncs of every transaction
    cost nothing.
    """
    usable = SHM.is_dir() and os.access(SHM, os.W_OK) and shutil.disk_usage(SHM).free > SHM_NEEDED
    if not usable:
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="moss-reliability-", dir=SHM))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    totals: dict[str, int] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if isinstance(value, int) and getattr(report, "when", "") == "call":
                    totals[name] = totals.get(name, 0) + value
    if totals:
        shown = ", ".join(f"{name}={value}" for name, value in sorted(totals.items()))
        terminalreporter.write_line(f"reliability: {shown}")

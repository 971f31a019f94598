"""Following a build log as it grows (`summit log --follow`).

A build's log is written straight into OUT/.summit/logs by the build's own process (the worker
opens it and hands it to the builder as stdout), so following it is reading a growing file until
the task's attempt ends.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CHUNK = 64 * 1024


def follow(
    path: Path, running: Callable[[], bool], write: Callable[[bytes], None], poll: float = 0.2
) -> None:
    """Copy `path` to `write` as it grows, until `running()` is false; then copy what the build
    wrote last and return. A log that does not exist yet is waited for while running."""
    with contextlib.ExitStack() as stack:
        log: BinaryIO | None = None
        while True:
            alive = running()
            if log is None and path.exists():
                log = stack.enter_context(open(path, "rb"))
            if log is not None:
                _drain(log, write)
            if not alive:
                if log is None and path.exists():
                    with open(path, "rb") as last:
                        _drain(last, write)
                return
            time.sleep(poll)


def _drain(log: BinaryIO, write: Callable[[bytes], None]) -> None:
    while chunk := log.read(CHUNK):
        write(chunk)

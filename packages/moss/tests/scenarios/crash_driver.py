"""Run moss, but SIGKILL it at a chosen point: `python crash_driver.py POINT COUNT -- ARGS...`.

POINT names a function of the transaction to die right after (or the COUNT-th blit link /
store rename, to die in the middle of those). Test code only: production code has no hooks.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(owner: Any, name: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _die()
        return result

    setattr(owner, name, wrapper)


def _nth(owner: Any, name: str, count: int, keyword: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        if keyword in kwargs:
            calls += 1
            if calls == count:
                _die()
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def main() -> None:
    point, count = sys.argv[1], int(sys.argv[2])
    args = sys.argv[4:]
    from moss_core.client import apply

    if point == "blit-link":
        _nth(os, "link", count, "src_dir_fd")
    elif point == "blit-mkdir":
        _nth(os, "mkdir", count, "dir_fd")
    elif point == "store-rename":
        _nth(os, "rename", count, "src_dir_fd")
    elif point == "exchange":
        _after(apply, "exchange")
    elif point == "journal":
        _after(apply.Journal, "write")
    else:
        _after(apply, point)
    from moss.cli import main as moss

    sys.argv = ["moss", *args]
    moss()


if __name__ == "__main__":
    main()

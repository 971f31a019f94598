"""The live summary `summit build` keeps at the bottom of a terminal while event lines scroll
above it: how many tasks are running, published, failed, blocked and waiting, and which run."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from summit.queue import Status
from summit.state import TaskRow

SHOWN = (
    (Status.RUNNING, "running"), (Status.PUBLISHED, "published"), (Status.FAILED, "failed"),
    (Status.BLOCKED, "blocked"), (Status.PENDING, "waiting"),
)  # fmt: skip


def counts_line(rows: Sequence[TaskRow]) -> str:
    return " · ".join(f"{sum(1 for r in rows if r.status is s)} {word}" for s, word in SHOWN)


class Summary:
    """A snapshot of the rows; elapsed times are computed whenever it is drawn."""

    def __init__(self, rows: Sequence[TaskRow]) -> None:
        self.rows = tuple(rows)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(counts_line(self.rows), style="bold")
        now = time.time()
        for row in self.rows:
            if row.status is Status.RUNNING:
                elapsed = "" if row.started is None else f", {now - row.started:.0f}s"
                yield Text(
                    f"  building {row.name} {row.version}-{row.release} "
                    f"(attempt {row.attempt}{elapsed})"
                )

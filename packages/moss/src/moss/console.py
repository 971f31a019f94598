"""The terminal side of the client: lines, package lists, questions, progress bars."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from stone.console import human_size

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from moss_core.fetch import FetchJob, FetchProgress
    from moss_core.registry import Package


def styled(text: str, **style: Any) -> str:
    """`text` in a style on a terminal, plain elsewhere or where NO_COLOR asks for no styling
    at all (bold and dim included, https://no-color.org)."""
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    return click.style(text, **style)


def _origin(package: Package) -> str:
    if package.installed:
        return ""
    return package.source


class NotATerminalError(click.ClickException):
    def __init__(self) -> None:
        super().__init__(
            "refusing to change the system without a terminal to ask on: pass -y to agree"
        )


class Console:
    """Reports what the client does. Colour, columns and bars only on a terminal."""

    def __init__(self, *, assume_yes: bool, verbose: bool = False):
        self.assume_yes = assume_yes
        self.verbose = verbose
        self.tty = sys.stdout.isatty()
        self._started = time.monotonic()
        self._progress: Progress | None = None

    def info(self, line: str) -> None:
        click.echo(line)

    def detail(self, line: str) -> None:
        if self.verbose:
            elapsed = time.monotonic() - self._started
            click.echo(styled(f"[{elapsed:7.2f}s] {line}", dim=True), err=True)

    def warn(self, line: str) -> None:
        click.echo(styled(f"warning: {line}", fg="yellow"), err=True)

    def packages(self, title: str, packages: Sequence[Package]) -> None:
        """A plan's packages in columns: name, version, where each comes from and its download
        size (what a repository index declares; a package's installed size is not in it)."""
        click.echo(title)
        click.echo()
        rows = [
            (p.name, p.version_text, _origin(p), p.meta.download_size)
            for p in sorted(packages, key=lambda p: p.name)
        ]
        widths = [max((len(str(row[i])) for row in rows), default=0) for i in range(3)]
        for name, version, origin, size in rows:
            cells = [styled(name.ljust(widths[0]), bold=True), version.ljust(widths[1])]
            if widths[2]:
                cells.append(origin.ljust(widths[2]))
            if size is not None:
                cells.append(human_size(size).rjust(9))
            click.echo("  " + "  ".join(cells).rstrip())
        sizes = [size for *_, size in rows if size is not None]
        if sizes:
            click.echo(f"\n  Total download size: {human_size(sum(sizes))}")
        click.echo()

    def confirm(self, question: str) -> bool:
        if self.assume_yes:
            return True
        if not sys.stdin.isatty():
            raise NotATerminalError()
        return click.confirm(f" {question}", default=False)

    def progress(self, title: str, total: int) -> Callable[[int], None]:
        if not self.tty:
            return lambda _advance: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn(title), BarColumn(), MofNCompleteColumn(), transient=True
        )
        task = self._progress.add_task(title, total=total)
        self._progress.start()
        progress = self._progress
        return lambda advance: progress.advance(task, advance)

    def done(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def fetch_progress(self) -> FetchProgress | None:
        """A bar per package in flight and one for the total, on a terminal only."""
        return _DownloadBars() if self.tty else None


class _DownloadBars:
    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TransferSpeedColumn,
        )

        self._bars = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()
        )
        self._total = self._bars.add_task("Total", total=0)
        self._tasks: dict[str, TaskID] = {}
        self._running = 0

    def start(self, job: FetchJob, total_bytes: int | None) -> None:
        if not self._running:
            self._bars.start()
        self._running += 1
        self._tasks[job.package.id] = self._bars.add_task(job.package.name, total=total_bytes)
        if total_bytes:
            total = self._bars.tasks[self._total].total or 0
            self._bars.update(self._total, total=total + total_bytes)

    def advance(self, job: FetchJob, nbytes: int) -> None:
        self._bars.advance(self._tasks[job.package.id], nbytes)
        self._bars.advance(self._total, nbytes)

    def finish(self, job: FetchJob) -> None:
        self._bars.remove_task(self._tasks.pop(job.package.id))
        self._running -= 1
        if not self._running:
            self._bars.stop()

"""The terminal side of the client: lines, package lists, questions, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from rich.progress import Progress

    from moss_core.registry import Package


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
        self._progress: Progress | None = None

    def info(self, line: str) -> None:
        click.echo(line)

    def warn(self, line: str) -> None:
        click.echo(
            click.style(f"warning: {line}", fg="yellow") if self.tty else f"warning: {line}",
            err=True,
        )

    def packages(self, title: str, packages: Sequence[Package]) -> None:
        click.echo(title)
        click.echo()
        width = max((len(p.name) for p in packages), default=0)
        for package in sorted(packages, key=lambda p: p.name):
            name = (
                click.style(package.name.ljust(width), bold=True)
                if self.tty
                else package.name.ljust(width)
            )
            click.echo(f"  {name}  {package.version_text}")
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

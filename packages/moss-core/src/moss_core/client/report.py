"""How the client talks to whoever drives it (the CLI, a test): lines, questions, progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from moss_core.registry import Package

if TYPE_CHECKING:
    from moss_core.fetch import FetchProgress


class Reporter(Protocol):
    def info(self, line: str) -> None: ...

    def warn(self, line: str) -> None: ...

    def detail(self, line: str) -> None:
        """What the client is doing, for `-v`: the sources asked, the path a transaction
        takes, each trigger command."""
        ...

    def packages(self, title: str, packages: Sequence[Package]) -> None:
        """Show a titled list of packages (a plan)."""
        ...

    def confirm(self, question: str) -> bool:
        """Ask before changing the system; False cancels."""
        ...

    def progress(self, title: str, total: int) -> Callable[[int], None]:
        """Start a progress display; the returned function advances it, and `done()` ends it."""
        ...

    def done(self) -> None: ...

    def fetch_progress(self) -> FetchProgress | None:
        """Where download progress goes, if anywhere."""
        ...


class QuietReporter:
    """Says yes, records every line: for tests and scripted use."""

    def __init__(self, *, answer: bool = True):
        self.answer = answer
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)

    def warn(self, line: str) -> None:
        self.lines.append(f"warning: {line}")

    def detail(self, line: str) -> None:
        self.lines.append(f"detail: {line}")

    def packages(self, title: str, packages: Sequence[Package]) -> None:
        self.lines.append(title)
        self.lines.extend(f"  {p.name} {p.version_text}" for p in packages)

    def confirm(self, question: str) -> bool:
        self.lines.append(question)
        return self.answer

    def progress(self, title: str, total: int) -> Callable[[int], None]:
        return lambda _advance: None

    def done(self) -> None:
        return None

    def fetch_progress(self) -> FetchProgress | None:
        return None

"""The error hierarchy: every message names the file, the line (when known) and the key or macro."""

from __future__ import annotations

from pathlib import Path


class BoulderError(Exception):
    """A user-facing failure: printed as one line, never as a traceback."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.key = key
        super().__init__(self._render())

    def _render(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [p for p in (where, self.key, self.message) if p]
        return ": ".join(parts)


class RecipeError(BoulderError):
    """The recipe cannot be read or does not follow the schema."""


class TuningError(RecipeError):
    """A `tuning` item names a group, option or flag the macros do not define."""


class MacroError(BoulderError):
    """A macro file is invalid, or a script cannot be expanded."""


class UnknownMacroError(MacroError):
    """A script refers to an action, definition or builtin that does not exist."""


class ScriptError(MacroError):
    """A script is well-formed but cannot be evaluated (builtin misuse, runaway recursion)."""


class BuildError(BoulderError):
    """A build cannot go on: a phase failed, a file cannot be packaged, a tool is missing."""


class UpstreamError(BuildError):
    """An upstream cannot be fetched, does not match its hash, or cannot be unpacked."""


class ProfileError(BoulderError):
    """A build profile does not exist or its configuration is invalid."""

"""The `boulder` command line (imperative shell around the pure core)."""

from __future__ import annotations

import sys

from boulder.cli import build as _build_commands  # noqa: F401  (registers them)
from boulder.cli import draft as _draft_commands  # noqa: F401  (registers them)
from boulder.cli.app import cli
from boulder.errors import BoulderError
from moss_core.errors import MossError
from stone.console import run_command


def _user_errors() -> tuple[type[Exception], ...]:
    # stone loads only with the commands that read packages; unloaded, it raised nothing.
    stone_errors = sys.modules.get("stone.errors")
    stone = (stone_errors.StoneError,) if stone_errors is not None else ()
    return (BoulderError, MossError, *stone)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one `boulder: error: ...` line on stderr and exit 1."""
    run_command(cli, "boulder", argv, user_errors=_user_errors)


__all__ = ["cli", "main"]

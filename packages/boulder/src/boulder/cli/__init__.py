"""The `boulder` command line (imperative shell around the pure core)."""

from __future__ import annotations

import sys

import click

from boulder.cli import build as _build_commands  # noqa: F401  (registers them)
from boulder.cli import draft as _draft_commands  # noqa: F401  (registers them)
from boulder.cli.app import cli
from boulder.errors import BoulderError
from moss_core.errors import MossError


def _user_errors() -> tuple[type[Exception], ...]:
    # stone loads only with the commands that read packages; unloaded, it raised nothing.
    stone_errors = sys.modules.get("stone.errors")
    stone = (stone_errors.StoneError,) if stone_errors is not None else ()
    return (BoulderError, MossError, *stone)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one `Error: ...` line on stderr and exit status 1."""
    try:
        code = cli.main(args=argv, prog_name="boulder", standalone_mode=False)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except Exception as err:
        if not isinstance(err, (*_user_errors(), OSError)):
            raise
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["cli", "main"]

"""What the command lines of stone, moss and boulder share: how they print a size, and how
they end (they all stand on stone): a user error
is one line, `PROG: error: …`, on stderr, with exit status 1 (2 for a usage mistake, after the
usage line); never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

import click

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """A size as the tools print it: `512 B`, `1.5 MiB`."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{size} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def error_line(prog: str, message: str) -> None:
    click.echo(f"{prog}: error: {message}", err=True)


def run_command(
    command: click.Command,
    prog: str,
    args: list[str] | None = None,
    *,
    user_errors: Callable[[], tuple[type[BaseException], ...]] = tuple,
) -> NoReturn:
    """Run `command` as the program `prog` and exit; `user_errors` names the exceptions that
    are the user's doing (asked when one is raised, so their modules load only if needed)."""
    try:
        code = command.main(args=args, prog_name=prog, standalone_mode=False)
    except click.UsageError as err:
        if err.ctx is not None:
            click.echo(err.ctx.get_usage(), err=True)
        error_line(prog, err.format_message())
        sys.exit(err.exit_code)
    except click.ClickException as err:
        error_line(prog, err.format_message())
        sys.exit(err.exit_code)
    except click.Abort:
        error_line(prog, "aborted")
        sys.exit(1)
    except OSError as err:
        # In the project's words: the file and the problem, not `[Errno 13] …`.
        where = f"{err.filename}: " if err.filename else ""
        error_line(prog, f"{where}{err.strerror or err}")
        sys.exit(1)
    except Exception as err:
        if not isinstance(err, user_errors()):
            raise
        error_line(prog, str(err))
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

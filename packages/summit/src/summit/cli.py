"""The `summit` command line."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from boulder.errors import BoulderError
from moss_core.errors import MossError
from stone import StoneError
from summit.controller import Controller, Options, builder_from_text, check_writable, state_path
from summit.errors import SummitError
from summit.state import State

_REPO = click.option(
    "--repo", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The published repository (state in REPO/.summit/).",
)  # fmt: skip


@click.group()
def cli() -> None:
    """Build a repository of recipes in dependency order on Dask and publish it for moss."""


@cli.command("build")
@click.argument("recipes", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_REPO
@click.option("--workers", type=click.IntRange(min=1), default=2, help="Embedded workers [2].")
@click.option("--scheduler", metavar="ADDR", help="An existing Dask scheduler (tcp://HOST:8786).")
@click.option("-p", "--profile", default="host", help="boulder profile of every build [host].")
@click.option(
    "--builder", metavar="COMMAND",
    help="Run COMMAND RECIPE_DIR OUTPUT_DIR PROFILE instead of boulder (for a wrapped boulder).",
)  # fmt: skip
@click.option(
    "--timeout", type=click.FloatRange(min=1), default=4 * 3600.0, help="Per build, seconds."
)
def build_command(
    recipes: Path, out: Path, workers: int, scheduler: str | None, profile: str,
    builder: str | None, timeout: float,
) -> None:  # fmt: skip
    """Build every recipe under RECIPES not yet published in the repository, in order."""
    check_writable(out)
    options = Options(
        recipes.absolute(), out.absolute(), workers, scheduler, profile,
        builder=builder_from_text(builder), timeout=timeout,
    )  # fmt: skip
    controller = Controller(options, click.echo)
    try:
        problems = controller.run()
    finally:
        controller.close()
    if problems:
        click.echo(f"{len(problems)} problem(s):", err=True)
        for line in problems:
            click.echo(f"  {line}", err=True)
        sys.exit(1)


def _open(out: Path) -> State:
    path = state_path(out)
    if not path.is_file():
        raise SummitError(f"{out}: no summit state here (run `summit build` first)")
    return State(path)


@cli.command("status")
@_REPO
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def status_command(out: Path, as_json: bool) -> None:
    """Tasks with state, times, builder and log."""
    state = _open(out)
    try:
        rows = state.tasks()
    finally:
        state.close()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    for row in rows:
        line = f"{row.name:24} {row.version}-{row.release:<6} {row.status:9} a{row.attempt}"
        if row.worker:
            line += f" on {row.worker}"
        if row.started is not None and row.ended is not None:
            line += f" {row.ended - row.started:.1f}s"
        if row.log_path:
            line += f" log {row.log_path}"
        if row.reason:
            line += f": {row.reason}"
        click.echo(line)


@cli.command("log")
@_REPO
@click.argument("task")
def log_command(out: Path, task: str) -> None:
    """The build log of TASK's latest attempt."""
    state = _open(out)
    try:
        row = state.task(task)
    finally:
        state.close()
    if row is None:
        raise SummitError(f"no task {task}")
    if row.log_path is None or not Path(row.log_path).is_file():
        raise SummitError(f"{task}: no build log (never started)")
    click.echo(Path(row.log_path).read_text(encoding="utf-8", errors="replace"), nl=False)


@cli.command("retry")
@_REPO
@click.argument("task")
def retry_command(out: Path, task: str) -> None:
    """Make a failed or blocked TASK pending again (the next `summit build` runs it)."""
    state = _open(out)
    try:
        if not state.retry(task):
            raise SummitError(f"{task}: no failed or blocked task of that name")
    finally:
        state.close()
    click.echo(f"{task}: pending")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one `Error: ...` line on stderr and exit status 1."""
    try:
        code = cli.main(args=argv, prog_name="summit", standalone_mode=False)
    except (SummitError, BoulderError, MossError, StoneError, OSError) as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)

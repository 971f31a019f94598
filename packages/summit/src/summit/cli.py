"""The `summit` command line."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live

from boulder.errors import BoulderError
from moss_core.errors import MossError
from stone import StoneError
from summit import logs
from summit.controller import Controller, Options, builder_from_text, check_writable, state_path
from summit.errors import SummitError
from summit.executor import client_security
from summit.live import Summary
from summit.queue import Status
from summit.serve import Server, make_app
from summit.state import State
from summit.tls import is_tls, tls_files

_REPO = click.option(
    "--repo", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
    help="The published repository (state in REPO/.summit/).",
)  # fmt: skip


@click.group()
def cli() -> None:
    """Build a repository of recipes in dependency order on Dask and publish it for moss."""


def _build_options(f: Callable[..., None]) -> Callable[..., None]:
    """The options `build` and `serve` share."""
    shared: tuple[Callable[[Any], Any], ...] = (
        click.argument("recipes", type=click.Path(exists=True, file_okay=False, path_type=Path)),
        _REPO,
        click.option("--workers", type=click.IntRange(min=1), default=2,
                     help="Embedded workers [2]."),
        click.option("--scheduler", metavar="ADDR",
                     help="An existing Dask scheduler (tcp://HOST:8786, tls://HOST:8786)."),
        click.option("--tls-ca-file", type=click.Path(dir_okay=False, path_type=Path),
                     metavar="PEM", help="With a tls:// scheduler: the CA it is signed by "
                     "[Dask's distributed.comm.tls.ca-file]."),
        click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path),
                     metavar="PEM", help="Our client certificate, signed by a CA the "
                     "scheduler trusts [distributed.comm.tls.client.cert]."),
        click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path),
                     metavar="PEM", help="Its private key [distributed.comm.tls.client.key]."),
        click.option("-p", "--profile", default="host",
                     help="boulder profile of every build [host]."),
        click.option("--builder", metavar="COMMAND",
                     help="Run COMMAND RECIPE_DIR OUTPUT_DIR PROFILE instead of boulder "
                     "(for a wrapped boulder)."),
        click.option("--timeout", type=click.FloatRange(min=1), default=4 * 3600.0,
                     help="Per build, seconds."),
    )  # fmt: skip
    for option in reversed(shared):
        f = option(f)
    return f


def _options(
    recipes: Path, out: Path, workers: int, scheduler: str | None, tls_ca_file: Path | None,
    tls_cert: Path | None, tls_key: Path | None, profile: str, builder: str | None,
    timeout: float,
) -> Options:  # fmt: skip
    tls = tls_files(scheduler, tls_ca_file, tls_cert, tls_key)
    if scheduler is not None and is_tls(scheduler):
        client_security(scheduler, tls)  # a TLS setup that cannot work fails before any scan
    check_writable(out)
    return Options(
        recipes.absolute(), out.absolute(), workers, scheduler, profile,
        builder=builder_from_text(builder), timeout=timeout, tls=tls,
    )  # fmt: skip


@cli.command("build")
@_build_options
def build_command(**given: Any) -> None:
    """Build every recipe under RECIPES not yet published in the repository, in order."""
    options = _options(**given)
    if sys.stdout.isatty():
        problems = _run_live(options)
    else:
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


def _run_live(options: Options) -> list[str]:
    """On a terminal: the event lines scroll above a live summary of the queue."""
    console = Console()
    with Live(console=console, transient=True, refresh_per_second=2) as live:
        controller: Controller | None = None

        def say(line: str) -> None:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
            if controller is not None:
                live.update(Summary(controller.rows()), refresh=True)

        controller = Controller(options, say)
        try:
            return controller.run()
        finally:
            controller.close()


@cli.command("serve")
@_build_options
@click.option("--host", default="127.0.0.1", help="Address of the queue page [127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, help="Its port [5000].")
@click.option(
    "--poll", type=click.FloatRange(min=0.1), default=30.0, metavar="SECONDS",
    help="How often to look for a new commit (or changed files) [30].",
)  # fmt: skip
def serve_command(host: str, port: int, poll: float, **given: Any) -> None:
    """Build, then watch RECIPES; serve a page of the queue.

    Builds as `build` does, then keeps watching RECIPES: a new commit that raises a release
    builds that recipe and the failed or blocked tasks that need it. Serves a read-only page
    of the queue (with a JSON form and the build logs) linking the Dask dashboard. Ends on
    SIGINT or SIGTERM, stopping the cluster and its builds."""
    options = _options(**given)
    controller = Controller(options, click.echo)
    stop = threading.Event()
    # Before the page is served: a SIGTERM as soon as it answers must still stop cleanly.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda _n, _f: stop.set())
    try:
        app = make_app(
            state_path(options.out), lambda: controller.dashboard,
            "Dask dashboard: linked once the cluster starts (with the first build)",
        )  # fmt: skip
        server = Server(app, host, port)
        try:
            click.echo(f"serving {server.url}")
            controller.serve(stop, poll)
        finally:
            server.close()
    finally:
        controller.close()
    click.echo("stopped")


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
@click.option(
    "-f", "--follow", is_flag=True,
    help="While the build runs, print its log as it grows; end when the build ends.",
)  # fmt: skip
def log_command(out: Path, task: str, follow: bool) -> None:
    """The build log of TASK's latest attempt."""
    state = _open(out)
    try:
        row = state.task(task)
        if row is None:
            raise SummitError(f"no task {task}")
        if row.log_path is None:
            raise SummitError(f"{task}: no build log (never started)")
        path = Path(row.log_path)
        if follow and row.status is Status.RUNNING:
            attempt = row.attempt

            def running() -> bool:
                now = state.task(task)
                return now is not None and now.status is Status.RUNNING and now.attempt == attempt

            stdout = sys.stdout.buffer

            def write(chunk: bytes) -> None:
                stdout.write(chunk)
                stdout.flush()

            logs.follow(path, running, write)
            return
    finally:
        state.close()
    if not path.is_file():
        raise SummitError(f"{task}: no build log (never started)")
    click.echo(path.read_text(encoding="utf-8", errors="replace"), nl=False)


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

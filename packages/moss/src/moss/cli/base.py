"""The `moss` group, its global options and what every command shares: the session (root,
lock, recovery), one-line errors, JSON output. Heavy modules load inside the commands that
need them, so a listing starts fast."""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from stone.console import error_line, run_command

if TYPE_CHECKING:
    from moss_core.client import Client
    from moss_core.registry import Package

# Upstream's short verbs; the multi-word ones expand before parsing.
ALIASES = {
    "it": ["install"],
    "rm": ["remove"],
    "up": ["sync"],
    "li": ["list", "installed"],
    "la": ["list", "available"],
    "ls": ["list", "sync"],
    "lu": ["list", "sync"],
    "ar": ["repo", "add"],
    "lr": ["repo", "list"],
    "rr": ["repo", "remove"],
    "ur": ["repo", "update"],
    "er": ["repo", "enable"],
    "dr": ["repo", "disable"],
    "fe": ["fetch"],
    "ix": ["index"],
    "sr": ["search"],
    "sf": ["search-file"],
}

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass
class Settings:
    root: str
    cache: str | None
    yes: bool
    verbose: bool
    wait: bool


# The group's options, which pacman and dnf users also type after the verb.
_VALUED_GLOBALS = ("-D", "--directory", "--cache")
_FLAG_GLOBALS = ("-y", "--yes-all", "-v", "--verbose", "--no-wait")


def normalise_args(argv: Sequence[str]) -> list[str]:
    """Expand the command word if it is an alias (only that word, unlike upstream) and move the
    group's options that follow the verb in front of it (`moss install -y x`); `--` ends that."""
    args = list(argv)
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in _VALUED_GLOBALS else 1
    if index >= len(args):
        return args
    lead, command, rest = args[:index], ALIASES.get(args[index], [args[index]]), []
    hoisted: list[str] = []
    index += 1
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        if arg in _VALUED_GLOBALS and index + 1 < len(args):
            hoisted += args[index : index + 2]
            index += 2
            continue
        if arg in _FLAG_GLOBALS or ("=" in arg and arg.partition("=")[0] in _VALUED_GLOBALS):
            hoisted.append(arg)
        else:
            rest.append(arg)
        index += 1
    return lead + hoisted + command + rest


def fail(message: str) -> None:
    error_line("moss", message)
    sys.exit(1)


def user_errors(command: _F) -> _F:
    """Every error a user can cause becomes one line on stderr and exit status 1."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from moss_core.errors import MossError
        from stone import StoneError

        try:
            return command(*args, **kwargs)
        except (MossError, StoneError) as err:
            fail(str(err))
        except OSError as err:
            where = f"{err.filename}: " if err.filename else ""
            fail(f"{where}{err.strerror or err}")
        except KeyboardInterrupt:
            fail("interrupted")

    wrapper.__name__ = command.__name__
    wrapper.__doc__ = command.__doc__
    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def session(ctx: click.Context, *, write: bool, rebuild_db: bool = False) -> Iterator[Client]:
    """Open the root, hold its lock (exclusive to change it), refuse it if its databases have
    lost what it holds, and finish any interrupted run.

    `rebuild_db` (write only) is the way out of that refusal: database files that cannot be
    opened are set aside and the check is left to the rebuild."""
    from moss.console import Console
    from moss_core.client import Client
    from moss_core.installation import Installation

    settings: Settings = ctx.find_object(Settings)  # type: ignore[assignment]
    installation = Installation.open(settings.root, settings.cache, create=write)
    console = Console(assume_yes=settings.yes, verbose=settings.verbose)
    with installation.lock(shared=not write, wait=settings.wait, on_wait=console.warn):
        if rebuild_db:
            from moss_core.client.rebuild import set_aside_unreadable

            set_aside_unreadable(installation, console)
        with Client(installation, console, read_only=not write) as client:
            if not rebuild_db:
                client.check_databases()
            model = client.model
            if model is not None and (settings.verbose or not model.disable_warning):
                click.echo(f'INFO: "{model.path}" is present & therefore active.', err=True)
            if write:
                client.recover()
            yield client


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2))


def package_json(package: Package) -> dict[str, object]:
    meta = package.meta
    return {
        "id": package.id,
        "name": meta.name,
        "version": meta.version,
        "release": meta.release,
        "build-release": meta.build_release,
        "summary": meta.summary,
        "source": package.source,
        "installed": package.installed,
        "explicit": package.explicit,
    }


# Verbs of other package managers that moss spells another way.
_OTHER_VERBS = {
    "update": "`moss sync -u` refreshes the repositories and moves every package to the newest",
    "upgrade": "`moss sync -u` refreshes the repositories and moves every package to the newest",
    "uninstall": "`moss remove NAME` removes a package",
}


class AliasGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalise_args(args))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in _OTHER_VERBS and self.get_command(ctx, args[0]) is None:
            raise click.UsageError(f"moss has no '{args[0]}': {_OTHER_VERBS[args[0]]}", ctx)
        return super().resolve_command(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Aliases"):
            formatter.write_dl([(alias, " ".join(words)) for alias, words in ALIASES.items()])
        super().format_epilog(ctx, formatter)


@click.group(cls=AliasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-D", "--directory", "root", default="/", show_default=True, help="Root of the installation."
)
@click.option("--cache", default=None, help="Directory for downloads (default: ROOT/.moss/cache).")
@click.option("-y", "--yes-all", "yes", is_flag=True, help="Answer yes to every question.")
@click.option("-v", "--verbose", is_flag=True)
@click.option("--no-wait", is_flag=True, help="Fail at once if another moss holds the root.")
@click.version_option(
    None, "-V", "--version", package_name="moss", prog_name="moss", message="%(prog)s %(version)s"
)
@click.pass_context
def main(
    ctx: click.Context, root: str, cache: str | None, yes: bool, verbose: bool, no_wait: bool
) -> None:
    """moss: the system package and state manager."""
    ctx.obj = Settings(root=root, cache=cache, yes=yes, verbose=verbose, wait=not no_wait)


def run() -> None:
    """The console script: `main` in a process of its own, which it ends."""
    # A moss run builds hundreds of thousands of objects that live until it exits (layouts,
    # trees, package metadata) and makes next to no cyclic garbage: the cyclic collector's
    # passes over them took 10-15% of a transaction and reclaimed nothing. Reference counting
    # frees memory as before.
    gc.disable()
    try:
        run_command(main, "moss")
    finally:
        # Nor is the collection at interpreter exit worth its walk over everything left.
        gc.freeze()

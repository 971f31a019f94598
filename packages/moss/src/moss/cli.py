"""The `moss` command. Heavy modules load inside the commands that need them, so a listing
starts fast; every user error ends as one line on stderr and exit status 1."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from moss import __version__

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


def expand_aliases(argv: Sequence[str]) -> list[str]:
    """Replace the first command word if it is an alias (only that word, unlike upstream)."""
    args = list(argv)
    for index, arg in enumerate(args):
        if arg.startswith("-"):
            if arg in ("-D", "--directory", "--cache"):
                continue
            continue
        if index > 0 and args[index - 1] in ("-D", "--directory", "--cache"):
            continue
        if arg in ALIASES:
            args[index : index + 1] = ALIASES[arg]
        break
    return args


def fail(message: str) -> None:
    click.echo(f"moss: error: {message}", err=True)
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
def session(ctx: click.Context, *, write: bool) -> Iterator[Client]:
    """Open the root, hold its lock (exclusive to change it), and finish any interrupted run."""
    from moss.console import Console
    from moss_core.client import Client
    from moss_core.installation import Installation

    settings: Settings = ctx.find_object(Settings)  # type: ignore[assignment]
    installation = Installation.open(settings.root, settings.cache)
    console = Console(assume_yes=settings.yes, verbose=settings.verbose)
    with (
        installation.lock(shared=not write, wait=settings.wait, on_wait=console.warn),
        Client(installation, console) as client,
    ):
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


class AliasGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_aliases(args))


@click.group(cls=AliasGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-D", "--directory", "root", default="/", show_default=True, help="Root of the installation."
)
@click.option("--cache", default=None, help="Directory for downloads (default: ROOT/.moss/cache).")
@click.option("-y", "--yes-all", "yes", is_flag=True, help="Answer yes to every question.")
@click.option("-v", "--verbose", is_flag=True)
@click.option("--no-wait", is_flag=True, help="Fail at once if another moss holds the root.")
@click.pass_context
def main(
    ctx: click.Context, root: str, cache: str | None, yes: bool, verbose: bool, no_wait: bool
) -> None:
    """moss: the system package and state manager."""
    ctx.obj = Settings(root=root, cache=cache, yes=yes, verbose=verbose, wait=not no_wait)


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"moss {__version__}")


@main.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("--dry-run", is_flag=True, help="Show the plan and change nothing.")
@click.pass_context
@user_errors
def install(ctx: click.Context, packages: tuple[str, ...], dry_run: bool) -> None:
    """Install PACKAGES: names, providers like binary(nano), or .stone files."""
    with session(ctx, write=True) as client:
        outcome = client.install(packages, dry_run=dry_run)
        if outcome.already:
            client.reporter.packages(
                "The following package(s) are already installed:", outcome.already
            )
        if outcome.state is not None:
            click.echo(f"State #{outcome.state.id} is now active")


@main.command()
@click.argument("packages", nargs=-1, required=True)
@click.option("--dry-run", is_flag=True, help="Show the plan and change nothing.")
@click.pass_context
@user_errors
def remove(ctx: click.Context, packages: tuple[str, ...], dry_run: bool) -> None:
    """Remove PACKAGES, what depends on them, and what only they needed."""
    with session(ctx, write=True) as client:
        outcome = client.remove(packages, dry_run=dry_run)
        if outcome.state is not None:
            click.echo(f"State #{outcome.state.id} is now active")


@main.command()
@click.option("-u", "--update", is_flag=True, help="Refresh the repositories first.")
@click.option("--dry-run", is_flag=True, help="Show the plan and change nothing.")
@click.option(
    "--import",
    "import_file",
    type=click.Path(dir_okay=False),
    help="Make the system match this model.",
)
@click.pass_context
@user_errors
def sync(ctx: click.Context, update: bool, dry_run: bool, import_file: str | None) -> None:
    """Move every package to the best candidate of the repositories (or of a system model)."""
    from pathlib import Path

    from moss_core.model import load_model

    with session(ctx, write=True) as client:
        if import_file is not None:
            client.use_model(load_model(Path(import_file)))
        if update:
            client.refresh_repositories()
        outcome = client.sync(dry_run=dry_run)
        if outcome.state is not None:
            click.echo(f"State #{outcome.state.id} is now active")


@main.command()
@click.argument("packages", nargs=-1, required=True)
@click.pass_context
@user_errors
def fetch(ctx: click.Context, packages: tuple[str, ...]) -> None:
    """Download packages into the cache (hash checked) without installing them."""
    with session(ctx, write=True) as client:
        for path in client.fetch(packages):
            click.echo(f"Fetched {path}")


@main.group(name="list")
def list_group() -> None:
    """List packages."""


@list_group.command(name="installed")
@click.option("-e", "--explicit", is_flag=True, help="Only packages asked for by name.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def list_installed(ctx: click.Context, explicit: bool, as_json: bool) -> None:
    """Packages of the active state."""
    with session(ctx, write=False) as client:
        packages = sorted(client.installed_packages(), key=lambda p: p.name)
    if explicit:
        packages = [p for p in packages if p.explicit]
    _print_packages(packages, as_json)


@list_group.command(name="available")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def list_available(ctx: click.Context, as_json: bool) -> None:
    """The best candidate of every package in the repositories."""
    with session(ctx, write=False) as client:
        packages = sorted(client.registry().available(), key=lambda p: p.name)
    _print_packages(packages, as_json)


def _print_packages(packages: Sequence[Package], as_json: bool) -> None:
    if as_json:
        emit_json([package_json(p) for p in packages])
        return
    if not packages:
        fail("no packages found")
    tty = sys.stdout.isatty()
    width = max(len(p.name) for p in packages)
    for package in packages:
        name = package.name.ljust(width)
        if tty:
            name = click.style(
                name, bold=package.explicit, dim=package.installed and not package.explicit
            )
        click.echo(f"{name}  {package.version_text} - {package.meta.summary}")


@list_group.command(name="sync")
@click.option("--upgrade-only", is_flag=True, help="Only packages with a newer release available.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def list_sync(ctx: click.Context, upgrade_only: bool, as_json: bool) -> None:
    """Installed packages whose best candidate differs (what `sync` would change)."""
    with session(ctx, write=False) as client:
        plan = client.sync_plan()
    updates = [
        (old, new)
        for old, new in plan.updated
        if not upgrade_only or new.meta.release > old.meta.release
    ]
    if as_json:
        emit_json(
            [
                {"name": new.name, "from": old.version_text, "to": new.version_text}
                for old, new in updates
            ]
        )
        return
    for old, new in updates:
        click.echo(f"{old.name}  {old.version_text} => {new.version_text}")


@main.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--files", is_flag=True, help="List the files of installed packages.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def info(ctx: click.Context, names: tuple[str, ...], files: bool, as_json: bool) -> None:
    """Details of packages, installed or available."""
    from stone import Provider

    documents = []
    with session(ctx, write=False) as client:
        registry = client.registry()
        for name in names:
            candidates = registry.by_provider(Provider.parse(name))
            if not candidates:
                fail(f"no such package {name}")
            for package in candidates:
                layout = client.layout_db.query([package.id]) if files and package.installed else []
                documents.append((package, layout))
    if as_json:
        emit_json(
            [
                {
                    **package_json(p),
                    "homepage": p.meta.homepage,
                    "description": p.meta.description,
                    "licenses": list(p.meta.licenses),
                    "depends": [str(d) for d in p.meta.depends],
                    "provides": [str(v) for v in p.meta.provides],
                    "conflicts": [str(c) for c in p.meta.conflicts],
                    "files": [f"/usr/{entry.path}" for _id, entry in layout],
                }
                for p, layout in documents
            ]
        )
        return
    for number, (package, layout) in enumerate(documents):
        if number:
            click.echo()
        meta = package.meta
        rows = [
            ("Name", meta.name),
            ("Status", "Installed" if package.installed else "Not installed"),
            ("Version", meta.version),
            ("Release number", str(meta.release)),
            ("Homepage", meta.homepage),
            ("Summary", meta.summary),
            ("Description", meta.description),
        ]
        for title, value in rows:
            click.echo(f"{title:<20}{value}")
        for title, values in (
            ("Dependencies", [str(d) for d in meta.depends]),
            ("Providers", [str(p) for p in meta.provides]),
            ("Conflicts", [str(c) for c in meta.conflicts]),
        ):
            if values:
                click.echo(title)
                for value in values:
                    click.echo(f"    • {value}")
        if layout:
            click.echo("Files")
            for _id, entry in layout:
                target = f" -> {entry.link_target}" if entry.link_target else ""
                click.echo(f"  /usr/{entry.path}{target}")


@main.command()
@click.argument("keyword")
@click.option("-i", "--installed", is_flag=True, help="Only installed packages.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def search(ctx: click.Context, keyword: str, installed: bool, as_json: bool) -> None:
    """Packages whose name or summary contains KEYWORD."""
    needle = keyword.lower()
    with session(ctx, write=False) as client:
        registry = client.registry()
        pool = registry.installed() if installed else [*registry.installed(), *registry.available()]
    seen: dict[str, Package] = {}
    for package in pool:
        if package.name not in seen and (
            needle in package.name.lower() or needle in package.meta.summary.lower()
        ):
            seen[package.name] = package
    hits = sorted(seen.values(), key=lambda p: (needle not in p.name.lower(), p.name))
    if as_json:
        emit_json([package_json(p) for p in hits])
        return
    for package in hits:
        click.echo(f"{package.name}  {package.meta.summary}")


@main.command(name="search-file")
@click.argument("keyword")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def search_file(ctx: click.Context, keyword: str, as_json: bool) -> None:
    """Files of cached packages whose path contains KEYWORD."""
    needle = keyword.removeprefix("/usr/")
    with session(ctx, write=False) as client:
        hits = client.layout_db.search_path(needle)
        names = {
            pid: meta.name
            for pid, meta in client.install_db.get_many({pid for pid, _ in hits}).items()
        }
    rows = [(f"/usr/{entry.path}", names.get(pid, pid)) for pid, entry in hits]
    if as_json:
        emit_json([{"path": path, "package": name} for path, name in rows])
        return
    for path, name in rows:
        click.echo(f"{path} from {name}")


@main.command(name="inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@user_errors
def inspect_command(files: tuple[str, ...], as_json: bool) -> None:
    """Show what .stone FILES hold (as `stone inspect`)."""
    from stone.cli import inspect as stone_inspect

    stone_inspect.callback(files=files, as_json=as_json)  # type: ignore[misc]


@main.command(name="extract")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@user_errors
def extract_command(files: tuple[str, ...]) -> None:
    """Unpack each .stone into a directory named after its package id, here."""
    import os

    from stone import FileType, extract, read

    for path in files:
        with read(path, FileType.BINARY) as reader:
            target = reader.meta().id
            os.makedirs(target, exist_ok=True)
            report = extract(reader, target)
        click.echo(f"{path} -> {target}: {report.files} files, {report.symlinks} symlinks")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@user_errors
def index(directory: str) -> None:
    """Write DIRECTORY/stone.index for every .stone below it."""
    from pathlib import Path

    from moss_core.repository import build_index

    metas = build_index(Path(directory))
    click.echo(f"Indexed {len(metas)} packages into {Path(directory) / 'stone.index'}")


@main.group()
def repo() -> None:
    """Manage repositories."""


@repo.command(name="add")
@click.argument("name")
@click.argument("uri")
@click.option("-c", "--comment", default="", help="A description.")
@click.option("-p", "--priority", default=0, type=click.IntRange(min=0), show_default=True)
@click.pass_context
@user_errors
def repo_add(ctx: click.Context, name: str, uri: str, comment: str, priority: int) -> None:
    """Add repository NAME at URI (a stone.index) and refresh it."""
    from moss_core.repository import Repository, RepositoryConfig, refresh, sanitise_name

    with session(ctx, write=True) as client:
        _refuse_with_model(client, "add")
        repository = Repository(
            id=sanitise_name(name), uri=uri, priority=priority, description=comment
        )
        config = RepositoryConfig.load(client.installation)
        config.add(repository)
        count = refresh(client.installation, repository)
    click.echo(f"{repository.id} added ({count} packages)")


@repo.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def repo_list(ctx: click.Context, as_json: bool) -> None:
    """Configured repositories, by priority."""
    from moss_core.repository import RepositoryConfig

    with session(ctx, write=False) as client:
        config = RepositoryConfig.load(client.installation)
    for warning in config.warnings:
        click.echo(f"warning: {warning}", err=True)
    repositories = config.repositories()
    if as_json:
        emit_json(
            [
                {
                    "id": r.id,
                    "uri": r.uri,
                    "priority": r.priority,
                    "active": r.active,
                    "description": r.description,
                }
                for r in repositories
            ]
        )
        return
    if not repositories:
        click.echo("No repositories have been configured yet")
    for r in repositories:
        state = "" if r.active else " (disabled)"
        click.echo(f" - {r.id} = {r.uri} [{r.priority}]{state}")


@repo.command(name="remove")
@click.argument("name")
@click.pass_context
@user_errors
def repo_remove(ctx: click.Context, name: str) -> None:
    """Remove a repository."""
    from moss_core.repository import RepositoryConfig

    with session(ctx, write=True) as client:
        _refuse_with_model(client, "remove")
        RepositoryConfig.load(client.installation).remove(name)
    click.echo(f"{name} removed")


@repo.command(name="update")
@click.argument("names", nargs=-1)
@click.pass_context
@user_errors
def repo_update(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Refresh the index of repositories (all active ones by default)."""
    from moss_core.repository import RepositoryConfig, refresh

    with session(ctx, write=True) as client:
        config = RepositoryConfig.load(client.installation)
        targets = [r for r in config.repositories() if (r.id in names if names else r.active)]
        missing = set(names) - {r.id for r in targets}
        if missing:
            fail(f"no such repository: {', '.join(sorted(missing))}")
        for repository in targets:
            count = refresh(client.installation, repository)
            click.echo(f"{repository.id} updated ({count} packages)")


def _refuse_with_model(client: Client, verb: str) -> None:
    if client.model is not None:
        fail(
            f"`moss repo {verb}` is refused with a system model: edit {client.model.path} instead"
        )


def _set_active(ctx: click.Context, name: str, active: bool) -> None:
    from moss_core.repository import RepositoryConfig

    with session(ctx, write=True) as client:
        _refuse_with_model(client, "enable" if active else "disable")
        RepositoryConfig.load(client.installation).set_active(name, active)
    click.echo(f"{name} {'enabled' if active else 'disabled'}")


@repo.command(name="enable")
@click.argument("name")
@click.pass_context
@user_errors
def repo_enable(ctx: click.Context, name: str) -> None:
    """Enable a repository."""
    _set_active(ctx, name, True)


@repo.command(name="disable")
@click.argument("name")
@click.pass_context
@user_errors
def repo_disable(ctx: click.Context, name: str) -> None:
    """Disable a repository."""
    _set_active(ctx, name, False)


@main.group()
def state() -> None:
    """Manage states: list, roll back, prune, verify."""


def _state_json(item: Any, active: int | None) -> dict[str, object]:
    return {
        "id": item.id,
        "summary": item.summary,
        "created": item.created,
        "active": item.id == active,
        "packages": [{"id": s.package_id, "explicit": s.explicit} for s in item.selections],
    }


def _print_state(item: Any, active: int | None) -> None:
    import time

    marker = " (active)" if item.id == active else ""
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(item.created))
    click.echo(f"State #{item.id} - {item.summary or ''}{marker}")
    click.echo(f"  Created: {created}")
    click.echo(f"  Packages: {len(item.selections)}")


@state.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def state_list(ctx: click.Context, as_json: bool) -> None:
    """Every state, oldest first."""
    with session(ctx, write=False) as client:
        states = client.state_db.list()
        active = client.installation.active_state_id()
    if as_json:
        emit_json([_state_json(s, active) for s in states])
        return
    for item in states:
        _print_state(item, active)


@state.command(name="active")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def state_active(ctx: click.Context, as_json: bool) -> None:
    """The live state."""
    with session(ctx, write=False) as client:
        current = client.active_state()
    if current is None:
        fail("no active state found")
    assert current is not None
    if as_json:
        emit_json(_state_json(current, current.id))
    else:
        _print_state(current, current.id)


@state.command(name="query")
@click.argument("state_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def state_query(ctx: click.Context, state_id: int, as_json: bool) -> None:
    """One state and its packages."""
    with session(ctx, write=False) as client:
        item = client.state_db.get(state_id)
        if item is None:
            fail(f"state {state_id} doesn't exist")
        assert item is not None
        metas = client.install_db.get_many(s.package_id for s in item.selections)
        active = client.installation.active_state_id()
    if as_json:
        document = _state_json(item, active)
        document["packages"] = [
            {"id": s.package_id, "name": metas[s.package_id].name, "explicit": s.explicit}
            for s in item.selections
            if s.package_id in metas
        ]
        emit_json(document)
        return
    _print_state(item, active)
    for selection in sorted(item.selections, key=lambda s: metas[s.package_id].name):
        meta = metas[selection.package_id]
        flag = "" if selection.explicit else " (dependency)"
        click.echo(f"    {meta.name} {meta.version}-{meta.release}{flag}")


@state.command(name="export")
@click.argument("state_id", type=int, required=False)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout."
)
@click.pass_context
@user_errors
def state_export(ctx: click.Context, state_id: int | None, output: str | None) -> None:
    """Write a system model that reproduces a state (the active one by default), pinned by id."""
    from pathlib import Path

    from moss_core.model import write_model

    with session(ctx, write=False) as client:
        text = client.export(state_id)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_model(Path(output), text)


@state.command(name="activate")
@click.argument("state_id", type=int)
@click.option("--skip-triggers", is_flag=True)
@click.pass_context
@user_errors
def state_activate(ctx: click.Context, state_id: int, skip_triggers: bool) -> None:
    """Make an earlier state live again (offline rollback)."""
    with session(ctx, write=True) as client:
        previous = client.activate(state_id, skip_triggers=skip_triggers)
    archived = f" ({previous} archived)" if previous is not None else ""
    click.echo(f"State {state_id} activated{archived}")


@state.command(name="prune")
@click.option("-k", "--keep", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--include-newer", is_flag=True, help="Also prune states newer than the active one.")
@click.option("--dry-run", is_flag=True)
@click.pass_context
@user_errors
def state_prune(ctx: click.Context, keep: int, include_newer: bool, dry_run: bool) -> None:
    """Keep the newest KEEP states (the active one counts); collect what the rest used."""
    with session(ctx, write=True) as client:
        client.prune(keep, include_newer=include_newer, dry_run=dry_run)


@state.command(name="remove")
@click.argument("state_ids", nargs=-1, required=True)
@click.pass_context
@user_errors
def state_remove(ctx: click.Context, state_ids: tuple[str, ...]) -> None:
    """Remove states by id or range (`2-4`)."""
    ids: list[int] = []
    for text in state_ids:
        low, _, high = text.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            fail(f"not a state id or range: {text}")
        ids.extend(range(int(low), int(high or low) + 1))
    with session(ctx, write=True) as client:
        client.remove_states(ids)


@state.command(name="verify")
@click.pass_context
@user_errors
def state_verify(ctx: click.Context) -> None:
    """Re-hash the store and every state's files; repair what is missing or corrupt."""
    with session(ctx, write=True) as client:
        client.verify(repair=True)


@main.group()
def cache() -> None:
    """Manage the download and content caches."""


@cache.command(name="prune")
@click.pass_context
@user_errors
def cache_prune(ctx: click.Context) -> None:
    """Remove packages, assets and downloads that no state needs."""
    with session(ctx, write=True) as client:
        count = client.cache_prune()
    click.echo(f"Removed {count} packages")

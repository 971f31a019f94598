"""Commands about packages: install, remove, sync, fetch, list, info, search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from moss import __version__
from moss.cli.base import emit_json, fail, main, package_json, session, user_errors
from moss.cli.completion import installed_names, known_names, package_names_and_files
from moss.console import styled

if TYPE_CHECKING:
    from moss_core.registry import Package


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(f"moss {__version__}")


@main.command()
@click.argument("packages", nargs=-1, required=True, shell_complete=package_names_and_files)
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
@click.argument("packages", nargs=-1, required=True, shell_complete=installed_names)
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
        click.echo("No packages", err=True)
        return
    width = max(len(p.name) for p in packages)
    for package in packages:
        name = styled(
            package.name.ljust(width),
            bold=package.explicit,
            dim=package.installed and not package.explicit,
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
@click.argument("names", nargs=-1, required=True, shell_complete=known_names)
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
            for package, repository in _one_per_id(candidates):
                layout = client.layout_db.query([package.id]) if files and package.installed else []
                documents.append((package, repository, layout))
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
                    "repository": repository,
                    "files": [f"/usr/{entry.path}" for _id, entry in layout],
                }
                for p, repository, layout in documents
            ]
        )
        return
    for number, (package, repository, layout) in enumerate(documents):
        if number:
            click.echo()
        meta = package.meta
        rows = [
            ("Name", meta.name),
            ("Status", "Installed" if package.installed else "Not installed"),
            ("Repository", repository or "none"),
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


def _one_per_id(candidates: Sequence[Package]) -> list[tuple[Package, str | None]]:
    """Each package once (the installed copy where there is one) with the repository that
    offers it, if any: a package both installed and in a repository is one package."""
    repositories: dict[str, str] = {}
    chosen: dict[str, Package] = {}
    for package in candidates:
        if not package.installed:
            repositories.setdefault(package.id, package.source)
        if package.id not in chosen or package.installed:
            chosen[package.id] = package
    return [(package, repositories.get(package.id)) for package in chosen.values()]


@main.command()
@click.argument("keyword")
@click.option("-i", "--installed", is_flag=True, help="Only installed packages.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def search(ctx: click.Context, keyword: str, installed: bool, as_json: bool) -> None:
    """Packages whose name or summary contains KEYWORD."""
    with session(ctx, write=False) as client:
        hits = client.registry().search(keyword, installed=True if installed else None)
    if as_json:
        emit_json([package_json(p) for p in hits])
        return
    width = max((len(p.name) for p in hits), default=0)
    for package in hits:
        click.echo(f"{styled(package.name.ljust(width), bold=True)}  {package.meta.summary}")


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

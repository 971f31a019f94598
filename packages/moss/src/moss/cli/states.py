"""`moss state` and `moss cache`: states, rollback, garbage collection, repair."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from moss.cli.base import emit_json, fail, main, session, user_errors

if TYPE_CHECKING:
    pass


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

    from moss_core.fs import write_atomically

    with session(ctx, write=False) as client:
        text = client.export(state_id)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomically(Path(output), text)


@state.command(name="activate")
@click.argument("state_id", type=int)
@click.option("--skip-triggers", is_flag=True)
@click.option(
    "--skip-boot", is_flag=True, help="Leave the boot entries alone (the initrd's rollback)."
)
@click.pass_context
@user_errors
def state_activate(ctx: click.Context, state_id: int, skip_triggers: bool, skip_boot: bool) -> None:
    """Make an earlier state live again (offline rollback)."""
    with session(ctx, write=True) as client:
        previous = client.activate(state_id, skip_triggers=skip_triggers, skip_boot=skip_boot)
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
        pruned = client.prune(keep, include_newer=include_newer, dry_run=dry_run)
    _report_removed(pruned, dry_run=dry_run)


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
        _report_removed(client.remove_states(ids), dry_run=False)


def _report_removed(states: list[Any], *, dry_run: bool) -> None:
    if not states:
        click.echo("No states to remove")
        return
    ids = ", ".join(f"#{s.id}" for s in states)
    click.echo(f"Would remove states {ids}" if dry_run else f"Removed states {ids}")


@state.command(name="verify")
@click.option(
    "--rebuild-db",
    is_flag=True,
    help="First rebuild the databases from the state trees and the cached packages.",
)
@click.pass_context
@user_errors
def state_verify(ctx: click.Context, rebuild_db: bool) -> None:
    """Re-hash the store and every state's files; repair what is missing or corrupt."""
    with session(ctx, write=True, rebuild_db=rebuild_db) as client:
        if rebuild_db:
            client.rebuild_databases()
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

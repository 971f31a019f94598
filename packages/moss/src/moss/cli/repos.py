"""`moss repo`: configured repositories."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from moss.cli.base import emit_json, fail, main, session, user_errors

if TYPE_CHECKING:
    from moss_core.client import Client
    from moss_core.repository import RootIndex


@main.group()
def repo() -> None:
    """Manage repositories."""


@repo.command(name="add")
@click.argument("name")
@click.argument("uri")
@click.option("-c", "--comment", default="", help="A description.")
@click.option("-p", "--priority", default=0, type=click.IntRange(min=0), show_default=True)
@click.option(
    "--root-index",
    metavar="KEY=VALUE[,KEY=VALUE]",
    help="URI is a base URI with a root index: version=stream/NAME|tag/NAME|history/NAME"
    " (required), channel= (default main), arch= (default x86_64).",
)
@click.option("--replace", is_flag=True, help="Replace a repository of the same name.")
@click.option(
    "--key",
    "public_key",
    metavar="PUBKEY",
    help="Pin the minisign public key (a .pub file, or the key line) its index must be"
    " signed with.",
)
@click.pass_context
@user_errors
def repo_add(
    ctx: click.Context,
    name: str,
    uri: str,
    comment: str,
    priority: int,
    root_index: str | None,
    replace: bool,
    public_key: str | None,
) -> None:
    """Add repository NAME at URI (a stone.index, or with --root-index a base URI), saved only
    once its index has been fetched and read (and, with --key, its signature checked)."""
    from moss_core.repository import Repository, add_repository, sanitise_name
    from moss_core.trust.keys import public_key_from

    with session(ctx, write=True) as client:
        _refuse_with_model(client, "add")
        repository = Repository(
            id=sanitise_name(name),
            uri=uri,
            priority=priority,
            description=comment,
            root_index=None if root_index is None else _root_index(root_index),
            public_key=None if public_key is None else public_key_from(public_key).line(),
        )
        count = add_repository(client.installation, repository, replace=replace)
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
                    **(
                        {}
                        if r.root_index is None
                        else {
                            "channel": r.root_index.channel,
                            "version": r.root_index.version,
                            "arch": r.root_index.arch,
                        }
                    ),
                    "priority": r.priority,
                    "active": r.active,
                    "key": r.public_key,
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
        key = r.pinned_key()
        signed = "unsigned" if key is None else f"signed by {key.id_text}"
        click.echo(f" - {r.id} = {r.describe()} [{r.priority}] {signed}{state}")


def _root_index(text: str) -> RootIndex:
    """`--root-index version=stream/unstable,channel=main`, as upstream's moss takes it."""
    from moss_core.repository import RepositoryError, RootIndex

    fields: dict[str, object] = {}
    for pair in text.split(","):
        key, equals, value = pair.partition("=")
        if not equals or key not in ("version", "channel", "arch") or key in fields:
            raise RepositoryError(
                f"--root-index {text!r}: expected version=…[,channel=…][,arch=…], each once"
            )
        fields[key] = value
    return RootIndex.from_fields(fields)


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
        fail(f"`moss repo {verb}` is refused with a system model: edit {client.model.path} instead")


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

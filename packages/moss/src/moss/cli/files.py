"""Commands about `.stone` files and repositories on disk: inspect, extract, index."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from moss.cli.base import main, user_errors

if TYPE_CHECKING:
    pass


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

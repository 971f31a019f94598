"""`boulder recipe new` and `boulder recipe update`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from boulder.cli.app import recipe
from boulder.cli.build import _cache_dir
from boulder.errors import BoulderError


@recipe.command("new")
@click.argument("uris", nargs=-1, required=True, metavar="URI...")
@click.option(
    "-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    help="Directory receiving stone.yaml and monitoring.yaml [.].",
)  # fmt: skip
@click.pass_context
def new(ctx: click.Context, uris: tuple[str, ...], output: Path) -> None:
    """Draft a recipe from source archives (http(s)://, file://) or git|URL repositories."""
    from boulder.draft.new import draft_recipe
    from boulder.draft.render import render_monitoring, render_stone

    stone, monitoring = output / "stone.yaml", output / "monitoring.yaml"
    for existing in (stone, monitoring):
        if existing.exists():
            raise BoulderError("already exists; not overwritten", file=existing)
    draft = draft_recipe(list(uris), _cache_dir(ctx))
    year = datetime.now(UTC).year
    output.mkdir(parents=True, exist_ok=True)
    stone.write_text(render_stone(draft, year), encoding="utf-8")
    monitoring.write_text(render_monitoring(draft, year), encoding="utf-8")
    click.echo(f"{stone}: drafted {draft.name} {draft.version}; still to do:")
    for item in draft.undecided:
        click.echo(f"  - {item}")


@recipe.command("update")
@click.argument("path", type=click.Path(path_type=Path), default=Path("stone.yaml"))
@click.option("--ver", "version", help="New version [read from the first new upstream].")
@click.option(
    "-u", "--upstream", "upstreams", multiple=True, metavar="URI|git|REF",
    help="New upstream, in the recipe's order: a URL, or git|REF for a git upstream.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(path_type=Path),
    help="Write the updated recipe here [over the recipe].",
)  # fmt: skip
@click.option("--no-bump", is_flag=True, help="Keep the release number.")
@click.pass_context
def update(
    ctx: click.Context,
    path: Path,
    version: str | None,
    upstreams: tuple[str, ...],
    output: Path | None,
    no_bump: bool,
) -> None:
    """Move a recipe to a new release: upstreams, hashes, version and release."""
    import tempfile

    from boulder.draft.fetch import fetch_file, fetch_repository, keep
    from boulder.draft.update import update_text
    from boulder.recipe.load import load_recipe, read_document, recipe_file

    file = recipe_file(path)
    load_recipe(file)
    cache = _cache_dir(ctx)
    with tempfile.TemporaryDirectory(prefix="boulder-update-") as scratch:
        workdir = Path(scratch)

        def fetch_hash(url: str) -> str:
            return keep(fetch_file(url, workdir), cache).hash

        def check_ref(url: str, ref: str) -> None:
            fetch_repository(url, ref, workdir, cache)

        change = update_text(
            file.read_text(encoding="utf-8"), read_document(file), file,
            version=version, sources=list(upstreams), bump=not no_bump,
            fetch_hash=fetch_hash, check_ref=check_ref,
        )  # fmt: skip
    target = file if output is None else (output / "stone.yaml" if output.is_dir() else output)
    target.write_text(change.text, encoding="utf-8")
    release = (
        f"release {change.old_release} to {change.new_release}"
        if change.new_release != change.old_release
        else f"release {change.old_release} kept"
    )
    click.echo(
        f"{target}: {change.name} updated from {change.old_version} to {change.new_version}, "
        f"{release}"
    )

"""`boulder build` and `boulder profile list|add|update`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from boulder.build import HOST_PROFILE, BuildOptions, build, default_cache_dir
from boulder.cli.app import _host, _macros, _source_date_epoch, cli
from boulder.recipe.load import recipe_file


@cli.command("build")
@click.argument("path", type=click.Path(path_type=Path), default=Path("stone.yaml"))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=Path("."),
    help="Directory receiving the packages [.].",
)  # fmt: skip
@click.option("-p", "--profile", default=HOST_PROFILE, help="Build root profile [host].")
@click.option("-b", "--build-release", type=click.IntRange(min=1), default=1, help="[1]")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Value of %(jobs) [CPU count].")
@click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Cache root (roots, build trees, upstreams) [/var/cache/boulder or ~/.cache/boulder].",
)  # fmt: skip
@click.pass_context
def build_command(
    ctx: click.Context,
    path: Path,
    output: Path,
    profile: str,
    build_release: int,
    jobs: int | None,
    cache_dir: Path | None,
) -> None:
    """Build a recipe into .stone packages, rootless, in a container."""
    recipe = recipe_file(path)
    options = BuildOptions(
        output=output,
        cache_dir=cache_dir or default_cache_dir(),
        jobs=jobs or os.cpu_count() or 1,
        source_date_epoch=_source_date_epoch(recipe.parent),
        profile=profile,
        build_release=build_release,
        architecture=_host(),
        interactive=sys.stdin.isatty(),
        out=click.echo,
    )
    build(recipe, _macros(ctx), options)

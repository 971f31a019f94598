"""`boulder build` and `boulder profile list|add|update`."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from boulder.cachedir import default_cache_dir
from boulder.cli.app import _host, _macros, _source_date_epoch, cli
from boulder.errors import ProfileError
from moss_core._lazy import lazy_import
from stone.console import human_size

# Builds, profiles and their repositories load when a command needs them, not for `--help`.
if TYPE_CHECKING:
    from boulder import profiles, settings
    from boulder.build import cache, pipeline
    from boulder.recipe import load as recipe_load
else:
    profiles = lazy_import("boulder.profiles")
    cache = lazy_import("boulder.build.cache")
    pipeline = lazy_import("boulder.build.pipeline")
    recipe_load = lazy_import("boulder.recipe.load")
    settings = lazy_import("boulder.settings")


def _root_option(ctx: click.Context, name: str) -> Path | None:
    value: Path | None = ctx.find_root().params.get(name)
    return value


def _cache_dir(ctx: click.Context, given: Path | None = None) -> Path:
    return given or _root_option(ctx, "cache_dir") or default_cache_dir()


def _store(ctx: click.Context) -> profiles.ProfileStore:
    return profiles.ProfileStore(_root_option(ctx, "config_dir") or profiles.default_config_dir())


def _index_locations(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """A path (relative to the working directory too) or a URI each."""
    return tuple(v if "://" in v else str(Path(v).absolute()) for v in values)


@cli.command("build")
@click.argument("path", type=click.Path(path_type=Path), default=Path("stone.yaml"))
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=Path("."),
    help="Directory receiving the packages [.].",
)  # fmt: skip
@click.option("-p", "--profile", default=lambda: profiles.HOST, help="Build root profile [host].")
@click.option("-b", "--build-release", type=click.IntRange(min=1), default=1, help="[1]")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Value of %(jobs) [CPU count].")
@click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Cache root, as the global option.",
)  # fmt: skip
@click.option("-c", "--compiler-cache", is_flag=True, help="Use ccache/sccache.")
@click.option("-u", "--update", is_flag=True, help="Fetch the profile's repository indexes first.")
@click.option(
    "--cleanup", is_flag=True,
    help="Afterwards delete the build root, trees, artefacts and the recipe's upstreams.",
)  # fmt: skip
@click.option(
    "--verify", type=click.Path(dir_okay=False, path_type=Path), metavar="MANIFEST",
    help="Fail unless the build reproduces this binary manifest (then it is not rewritten).",
)  # fmt: skip
@click.option(
    "--normal-priority", is_flag=True, help="Do not lower the build's priority to SCHED_BATCH."
)
@click.option(
    "--allow-local-upstreams", is_flag=True,
    help="Allow file:// and local git upstreams outside the recipe's directory.",
)  # fmt: skip
@click.option(
    "-v", "--verbose", is_flag=True,
    help="Print bash's trace of every command too (the build log always has it).",
)  # fmt: skip
@click.option(
    "--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
    help="Stop the build when its scripts have run this long, 0 never [boulder.kdl, 12 h].",
)  # fmt: skip
@click.option(
    "--memory-limit", type=click.FloatRange(min=0), metavar="MIB",
    help="Memory and swap of the build container, 0 none [boulder.kdl, all the machine has].",
)  # fmt: skip
@click.option(
    "--process-limit", type=click.IntRange(min=0), metavar="N",
    help="Processes and threads of the build container, 0 none [boulder.kdl, 16384].",
)  # fmt: skip
@click.option(
    "--file-size-limit", type=click.FloatRange(min=0), metavar="MIB",
    help="Size of any file the build writes, 0 none [boulder.kdl, 65536].",
)  # fmt: skip
@click.option(
    "--disk-limit", type=click.FloatRange(min=0), metavar="MIB",
    help="Growth of the disks each script writes to, 0 none [boulder.kdl, 262144].",
)  # fmt: skip
@click.option(
    "--extra-repo", "extra_repos", multiple=True, metavar="INDEX", callback=_index_locations,
    help="Also use this repository (stone.index URI or path) above the profile's; on the host "
    "profile its packages the recipe needs are laid over /usr. Repeatable, first highest.",
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
    compiler_cache: bool,
    cleanup: bool,
    verify: Path | None,
    update: bool,
    normal_priority: bool,
    allow_local_upstreams: bool,
    verbose: bool,
    timeout: float | None,
    memory_limit: float | None,
    process_limit: int | None,
    file_size_limit: float | None,
    disk_limit: float | None,
    extra_repos: tuple[str, ...],
) -> None:
    """Build a recipe into .stone packages, rootless, in a container."""
    # Absolute: the recipe's directory is bound into the container, and binds need one.
    recipe = recipe_load.recipe_file(path).absolute()
    options = pipeline.BuildOptions(
        output=output,
        cache_dir=_cache_dir(ctx, cache_dir),
        jobs=jobs or os.cpu_count() or 1,
        source_date_epoch=_source_date_epoch(recipe.parent),
        profile=profile,
        config_dir=_store(ctx).config_dir,
        build_release=build_release,
        architecture=_host(),
        interactive=sys.stdin.isatty(),
        compiler_cache=compiler_cache,
        cleanup=cleanup,
        verify=verify,
        update=update,
        batch_priority=not normal_priority,
        allow_local_upstreams=allow_local_upstreams,
        verbose=verbose,
        settings=_settings(
            _store(ctx), timeout=timeout, memory=memory_limit, processes=process_limit,
            file_size=file_size_limit, disk=disk_limit,
        ),
        extra_repos=extra_repos,
        out=click.echo,
    )  # fmt: skip
    pipeline.build(recipe, _macros(ctx), options)


def _settings(
    store: profiles.ProfileStore,
    *,
    timeout: float | None,
    memory: float | None,
    processes: int | None,
    file_size: float | None,
    disk: float | None,
) -> settings.BuildSettings:
    """`boulder.kdl`'s settings, with those given on the command line instead."""
    loaded = settings.load_settings(store.config_dir, store.system_dir)
    return replace(
        loaded,
        timeout=loaded.timeout if timeout is None else timeout,
        memory=loaded.memory if memory is None else memory,
        processes=loaded.processes if processes is None else processes,
        file_size=loaded.file_size if file_size is None else file_size,
        disk=loaded.disk if disk is None else disk,
    )


@cli.command("chroot")
@click.argument("path", type=click.Path(path_type=Path), default=Path("stone.yaml"))
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def chroot_command(ctx: click.Context, path: Path, cache_dir: Path | None) -> None:
    """A shell in the build root of the recipe's last build."""
    recipe = recipe_load.recipe_file(path)
    options = pipeline.BuildOptions(
        output=Path("."),
        cache_dir=_cache_dir(ctx, cache_dir),
        jobs=os.cpu_count() or 1,
        source_date_epoch=_source_date_epoch(recipe.parent),
        architecture=_host(),
    )
    ctx.exit(pipeline.chroot(recipe, _macros(ctx), options))


@cli.group("cache")
def cache_group() -> None:
    """The cache root: build roots, trees, upstreams, and moss's packages and indexes."""


_BOULDER_FLAG = click.option("-b", "--boulder-cache", "boulder", is_flag=True, help="boulder's.")
_MOSS_FLAG = click.option("-m", "--moss-cache", "moss", is_flag=True, help="moss's.")


@cache_group.command("size")
@_BOULDER_FLAG
@_MOSS_FLAG
@click.pass_context
def cache_size(ctx: click.Context, boulder: bool, moss: bool) -> None:
    """How much each cache holds (neither flag: both)."""
    for name, directory, held in cache.parts(_cache_dir(ctx), boulder=boulder, moss=moss):
        click.echo(f"{name} ({directory}): {human_size(cache.tree_size(held))}")


@cache_group.command("clean")
@_BOULDER_FLAG
@_MOSS_FLAG
@click.pass_context
def cache_clean(ctx: click.Context, boulder: bool, moss: bool) -> None:
    """Delete what the caches hold (neither flag: both)."""
    for name, directory, held in cache.parts(_cache_dir(ctx), boulder=boulder, moss=moss):
        click.echo(f"Deleting {name} directory: {directory}")
        cache.clean(held)


@cli.group()
def profile() -> None:
    """Build profiles: the repositories build roots are made from."""


@profile.command("list")
@click.pass_context
def profile_list(ctx: click.Context) -> None:
    """Every profile and its repositories, highest priority first."""
    for found in _store(ctx).load().values():
        click.echo(f"{found.id}:")
        if found.is_host:
            click.echo(" - the host's /usr, read-only (built in)")
        for repo in sorted(found.repositories, key=lambda r: (-r.priority, r.name)):
            click.echo(f" - {repo.name} = {repo.describe()} [{repo.priority}]")


def _refresh(ctx: click.Context, found: profiles.Profile) -> None:
    # Imported here: only profile commands and repository-backed builds need the moss client.
    from boulder.build.roots import profile_moss_dir, refresh_profile

    for name, count in refresh_profile(found, profile_moss_dir(_cache_dir(ctx), found)):
        click.echo(f"{name}: {count} packages")
    click.echo(f"Profile {found.id} updated")


@profile.command("add")
@click.argument("name")
@click.argument("uris", nargs=-1)
@click.option(
    "-r", "--repo", "specs", multiple=True, metavar="name=…,uri=…[,priority=N]",
    help="A repository (repeatable).",
)  # fmt: skip
@click.option(
    "--package", "packages", multiple=True,
    help="What every build root holds (repeatable) [boulder's base set and toolchain].",
)  # fmt: skip
@click.pass_context
def profile_add(
    ctx: click.Context,
    name: str,
    uris: tuple[str, ...],
    specs: tuple[str, ...],
    packages: tuple[str, ...],
) -> None:
    """Save profile NAME with repositories (URIs of stone.index files, or -r specs), then
    fetch their indexes."""
    repos = [profiles.parse_repository_spec(spec) for spec in specs]
    repos += [
        profiles.ProfileRepository(f"repo{i}", uri) for i, uri in enumerate(uris, len(repos) + 1)
    ]
    if not repos:
        raise ProfileError("a profile needs at least one repository (URI or -r)")
    found = profiles.Profile(profiles.profile_id(name), tuple(repos), tuple(packages) or None)
    store = _store(ctx)
    store.save(found)
    _refresh(ctx, found)
    click.echo(f'Profile "{found.id}" has been added')


@profile.command("update")
@click.option("-p", "--profile", "name", default=None, help="Only this profile [all].")
@click.pass_context
def profile_update(ctx: click.Context, name: str | None) -> None:
    """Fetch the repository indexes of a profile (or of every profile) again."""
    store = _store(ctx)
    chosen = [store.get(name)] if name else list(store.load().values())
    for found in chosen:
        if not found.is_host:
            _refresh(ctx, found)

"""Commands: `recipe check|show|packages|macros|bump` (`macros` and `bump` also at the top)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from boulder.cachedir import default_cache_dir
from boulder.errors import BoulderError, MacroError
from boulder.phase import Phase
from moss_core._lazy import lazy_import

# The recipe model, macros and compiler load when a command needs them, not for `--help`.
if TYPE_CHECKING:
    import subprocess

    from boulder import compiled, phases
    from boulder import packages as package_plan
    from boulder.macros import catalog, load
    from boulder.recipe import bump as recipe_bump
    from boulder.recipe import load as recipe_load
else:
    subprocess = lazy_import("subprocess")  # for the commit time of `show` and `build` only
    compiled = lazy_import("boulder.compiled")
    package_plan = lazy_import("boulder.packages")
    phases = lazy_import("boulder.phases")
    catalog = lazy_import("boulder.macros.catalog")
    load = lazy_import("boulder.macros.load")
    recipe_bump = lazy_import("boulder.recipe.bump")
    recipe_load = lazy_import("boulder.recipe.load")

_PHASES = [p.value for p in Phase]


def _macros(ctx: click.Context) -> load.MacroSet:
    params = ctx.find_root().params
    data_dir: Path | None = params.get("data_dir")
    cache: Path = params.get("cache_dir") or default_cache_dir()
    return load.load_macros((data_dir or load.bundled_data_dir()).resolve(), cache / "macros")


def _host() -> str:
    machine = os.uname().machine
    return "aarch64" if machine in ("aarch64", "arm64") else "x86_64"


def _source_date_epoch(recipe_dir: Path) -> int:
    """$SOURCE_DATE_EPOCH if an integer, else the recipe's last git commit time, else now."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    if value.strip().lstrip("-").isdigit():
        return int(value)
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%at"],
            cwd=recipe_dir, capture_output=True, text=True, check=False, timeout=10,
        )  # fmt: skip
        if out.returncode == 0 and out.stdout.strip().isdigit():
            return int(out.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return int(time.time())


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Macro data directory (holding macros/arch and macros/actions); default: bundled.",
)
@click.option(
    "--config-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Configuration directory (profiles) [/etc/boulder or ~/.config/boulder].",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cache root (roots, build trees, upstreams) [/var/cache/boulder or ~/.cache/boulder].",
)
@click.version_option(
    None, "-V", "--version", package_name="boulder", prog_name="boulder",
    message="%(prog)s %(version)s",
)  # fmt: skip
@click.pass_context
def cli(
    ctx: click.Context, data_dir: Path | None, config_dir: Path | None, cache_dir: Path | None
) -> None:
    """Build AerynOS packages from stone.yaml recipes."""
    if ctx.invoked_subcommand is None:
        click.echo("Pass --help to view usage.")


@cli.group()
def recipe() -> None:
    """Inspect and edit recipes."""


@recipe.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Parse each recipe and expand every phase of every target; one line per recipe."""
    macros = _macros(ctx)
    context = phases.BuildContext(jobs=os.cpu_count() or 1, source_date_epoch=0, host=_host())
    failed = 0
    for path in paths:
        try:
            compiled.compile_recipe(recipe_load.load_recipe(path), macros, context)
        except BoulderError as err:
            failed += 1
            # Errors go to stderr; one that names its file already says which recipe it is.
            click.echo(str(err) if err.file else f"{path}: {err}", err=True)
        else:
            click.echo(f"{path}: ok")
    if failed:
        ctx.exit(1)


@recipe.command("show")
@click.argument("path", type=click.Path(path_type=Path), default=Path("stone.yaml"))
@click.option("--phase", "-p", type=click.Choice(_PHASES), help="Only this phase.")
@click.option("--target", "-t", help="Only this target (e.g. x86_64, emul32/x86_64).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Value of %(jobs) [CPU count].")
@click.option("--compiler-cache", "-c", is_flag=True, help="As with `boulder build -c`.")
@click.pass_context
def show(
    ctx: click.Context,
    path: Path,
    phase: str | None,
    target: str | None,
    jobs: int | None,
    compiler_cache: bool,
) -> None:
    """Print the exact script(s) a build would run."""
    loaded = recipe_load.load_recipe(path)
    context = phases.BuildContext(
        jobs=jobs or os.cpu_count() or 1,
        source_date_epoch=_source_date_epoch(loaded.path.parent),
        compiler_cache=compiler_cache,
        host=_host(),
    )
    recipe = compiled.compile_recipe(loaded, _macros(ctx), context)
    chosen = [
        s
        for s in recipe.scripts
        if (phase is None or s.phase.value == phase) and (target is None or s.target == target)
    ]
    if not chosen:
        raise BoulderError("nothing to show: the recipe has no such phase", file=loaded.path)
    for index, script in enumerate(chosen):
        if len(chosen) > 1:
            click.echo(("\n" if index else "") + _header(script))
        # Printed as is; a newline is added only where the script lacks a final one.
        click.echo(script.text, nl=not script.text.endswith("\n"))


def _header(script: phases.PhaseScript) -> str:
    return f"### target={script.target} stage={script.stage.value} phase={script.phase.value}"


@recipe.command("packages")
@click.argument("path", type=click.Path(path_type=Path), default=Path("stone.yaml"))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def packages(ctx: click.Context, path: Path, as_json: bool) -> None:
    """List the packages the recipe can produce, with their rundeps and collection paths."""
    plan = package_plan.plan_packages(recipe_load.load_recipe(path), _macros(ctx), _host())
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in plan.packages], indent=2))
        return
    for package in plan.packages:
        click.echo(f"{package.name}: {package.summary or ''}".rstrip())
        if package.rundeps:
            click.echo(f"  rundeps: {', '.join(package.rundeps)}")
        for glob in package.paths:
            click.echo(f"  {glob}")


@recipe.command("macros")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def macros_command(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List actions and definitions, or describe one (NAME, %NAME or %(NAME))."""
    entries = catalog.catalog(_macros(ctx), _host())
    if name is not None:
        entries = catalog.find(entries, name)
        if not entries:
            raise MacroError(f"Macro doesn't exist: {name}")
    if as_json:
        click.echo(json.dumps([e.as_json() for e in entries], indent=2))
        return
    if name is not None:
        for entry in entries:
            click.echo(f"{entry.reference} - {entry.text.strip()}")
            if entry.example:
                click.echo(f"Example:\n{entry.example.rstrip()}")
            if entry.dependencies:
                click.echo(f"Dependencies: {', '.join(entry.dependencies)}")
        return
    width = max(len(e.reference) for e in entries)
    for entry in entries:
        click.echo(f"{entry.reference:<{width}}  {entry.summary}".rstrip())


@recipe.command("bump")
@click.argument("path", type=click.Path(path_type=Path), default=Path("stone.yaml"))
@click.option("--release", "-n", type=click.IntRange(min=1), help="New release [current + 1].")
def bump(path: Path, release: int | None) -> None:
    """Raise the release number, keeping the file's formatting and comments."""
    done = recipe_bump.bump_release(path, release)
    click.echo(f"{done.path}: {done.name} release updated from {done.old} to {done.new}")


cli.add_command(bump)
cli.add_command(macros_command)

"""`boulder build`: recipe to `.stone` packages (spec §3.1), the imperative shell around the
pure recipe, script, collection and metadata code."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from boulder.build.analysis import Analyser, AnalysisOptions, Bucket
from boulder.build.collect import walk_install_root
from boulder.build.container import (
    BuildDirs,
    BuildRoot,
    HostRoot,
    build_spec,
    fresh_dir,
    mason_binds,
    remove_tree,
    write_file,
)
from boulder.build.emit import (
    Emitted,
    manifest_matches,
    package_meta,
    write_manifests,
    write_package,
)
from boulder.build.runner import Console, JobRunner, breakpoint_profile
from boulder.build.upstreams import (
    check_local,
    check_names,
    fetch_git,
    fetch_plain,
    git_cache_path,
    plain_cache_path,
    share_file,
)
from boulder.cachedir import default_cache_dir
from boulder.compiled import CompiledRecipe, compile_recipe
from boulder.errors import BoulderError, BuildError
from boulder.macros.load import MacroSet
from boulder.phase import Phase
from boulder.phases import BuildContext, shell_macros
from boulder.profiles import HOST, SYSTEM_DIR, Profile, ProfileStore, default_config_dir
from boulder.recipe.load import LoadedRecipe, load_recipe
from boulder.recipe.model import GitUpstream, PlainUpstream, Recipe, url_file_name
from boulder.recipe.pin import pin_git_ref
from boulder.recipe.targets import Stage
from boulder.settings import BuildSettings, load_settings
from moss_core.container import ContainerError, run_container
from moss_core.repository import load_limits

HOST_PROFILE = HOST


def boulder_version() -> str:
    try:
        return version("boulder")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class BuildOptions:
    output: Path
    cache_dir: Path
    jobs: int
    source_date_epoch: int
    profile: str = HOST_PROFILE
    config_dir: Path = field(default_factory=default_config_dir)
    build_release: int = 1
    architecture: str = "x86_64"
    interactive: bool = False
    compiler_cache: bool = False
    cleanup: bool = False
    verify: Path | None = None
    """A binary manifest the build must reproduce; then the manifests are not rewritten."""
    update: bool = False
    """Fetch the profile's repository indexes again before composing the root."""
    batch_priority: bool = True
    """Run the build under SCHED_BATCH, so the machine stays responsive."""
    allow_local_upstreams: bool = False
    """Take `file://` and local git upstreams from outside the recipe's directory too."""
    verbose: bool = False
    """Print bash's trace of every command too (the build log always has it)."""
    settings: BuildSettings | None = None
    """The build's time and resource limits; None for those of `boulder.kdl` (`config_dir`)."""
    extra_repos: tuple[str, ...] = ()
    """Repositories (`stone.index` URIs or paths) whose packages the build may use, above the
    profile's; on the host profile, those providing its build dependencies are laid over the
    host's `/usr`."""
    out: Callable[[str], None] = field(default=print, compare=False)


@dataclass(frozen=True)
class BuildResult:
    packages: tuple[Emitted, ...]
    manifests: tuple[Path, ...]
    log: Path


def _check_options(recipe: Path, options: BuildOptions) -> None:
    """What would make a build fail after all its work is refused before any: the output
    directory (made if missing) and the recipe's directory, where the manifests go."""
    if options.verify is not None and ".json" in options.verify.suffix:
        raise BuildError(f'Binary manifest required for verification, got "{options.verify}"')
    try:
        options.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BuildError(
            f"cannot make the output directory: {err.strerror}", file=err.filename
        ) from None
    if not os.access(options.output, os.W_OK):
        raise BuildError("the output directory is not writable", file=options.output)
    if options.verify is None and not os.access(recipe.parent, os.W_OK):
        raise BuildError(
            "the recipe's directory is not writable, and the build manifests are written"
            " there (or pass --verify MANIFEST to check against one instead)",
            file=recipe.parent,
        )


def _context(options: BuildOptions) -> BuildContext:
    return BuildContext(
        jobs=options.jobs,
        source_date_epoch=options.source_date_epoch,
        compiler_cache=options.compiler_cache,
        host=options.architecture,
    )


def _share_upstreams(loaded: LoadedRecipe, dirs: BuildDirs, console: Console) -> None:
    upstreams = loaded.recipe.upstreams
    console.line(f"Sharing {len(upstreams)} upstream(s) with the build container:")
    # The host's moss limits: boulder downloads on the host, as moss does.
    limits = load_limits(Path("/"))
    dirs.sourcedir.mkdir(parents=True, exist_ok=True)
    for index, upstream in enumerate(upstreams):
        if isinstance(upstream, GitUpstream):
            commit = fetch_git(
                dirs.cache, upstream, dirs.sourcedir / upstream.file_name, console.line
            )
            if commit != upstream.ref:
                _pin(loaded, index, upstream, commit, console)
        else:
            cached = fetch_plain(dirs.cache, upstream, console.line, limits)
            share_file(cached, dirs.sourcedir / upstream.file_name)


def _pin(
    loaded: LoadedRecipe, index: int, upstream: GitUpstream, commit: str, console: Console
) -> None:
    """Record the commit a branch or tag resolved to in the recipe, as upstream does."""
    try:
        pinned = pin_git_ref(loaded.path, index, upstream.ref, commit)
    except (OSError, BoulderError) as err:
        console.line(f"Warning | cannot pin git ref {upstream.ref} of {upstream.url}: {err}")
        return
    if pinned:
        console.line(
            f"Warning | git ref {upstream.ref} of {upstream.url} is now pinned to {commit} "
            f"in {loaded.path}"
        )


def _build_root(
    compiled: CompiledRecipe,
    profile: Profile,
    dirs: BuildDirs,
    log: Callable[[str], None],
    options: BuildOptions,
) -> BuildRoot:
    if profile.is_host and not options.extra_repos:
        return HostRoot()
    # The moss client (and its HTTP stack) is only needed for roots made from repositories.
    from boulder.build.roots import (
        RepositoryRoot,
        compose_layer,
        extra_repositories,
        profile_moss_dir,
        root_packages,
    )

    recipe, actions = compiled.loaded.recipe, compiled.dependencies
    if profile.is_host:
        # The host provides the base set and toolchain; only the recipe's own needs are looked
        # for in the extra repositories.
        wanted = root_packages(recipe, actions, base=())
        layer = compose_layer(extra_repositories(options.extra_repos), wanted, dirs.layer, log)
        return HostRoot(layer=layer)
    packages = root_packages(recipe, actions, profile.packages)
    above = max((r.priority for r in profile.repositories), default=0)
    return RepositoryRoot(
        profile, packages, profile_moss_dir(dirs.cache, profile), dirs.cache / "moss" / "cache",
        log, options.update, extra_repositories(options.extra_repos, above),
    )  # fmt: skip


def build(path: Path, macros: MacroSet, options: BuildOptions) -> BuildResult:
    _check_options(path, options)
    # Everything is compiled up front: a bad macro fails before any build work.
    loaded = load_recipe(path)
    compiled = compile_recipe(loaded, macros, _context(options))
    recipe = loaded.recipe
    check_names(recipe.upstreams)
    check_local(recipe.upstreams, loaded.path.parent, allow=options.allow_local_upstreams)
    profile = ProfileStore(options.config_dir).get(options.profile)
    settings = options.settings or load_settings(options.config_dir, SYSTEM_DIR)
    dirs = BuildDirs(
        options.cache_dir.resolve(), f"{recipe.name}-{recipe.version}-{recipe.release}"
    )
    for cache in dirs.caches().values():
        cache.mkdir(parents=True, exist_ok=True)
    dirs.log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(dirs.log, "w", encoding="utf-8") as log:
        console = Console(log, options.out, verbose=options.verbose)
        console.line(f"boulder {boulder_version()}")
        console.line(
            f"└─ building {recipe.name}-{recipe.version}-{recipe.release}-{options.build_release}"
        )
        for directory in (dirs.artefacts, dirs.root, dirs.build, dirs.scripts):
            fresh_dir(directory)
        remove_tree(dirs.layer)
        host = _build_root(compiled, profile, dirs, console.line, options)
        root_binds = host.populate(dirs.root, networking=recipe.networking)
        _share_upstreams(loaded, dirs, console)
        binds = (*root_binds, *mason_binds(dirs, loaded.path.parent))
        runner = JobRunner(
            recipe, loaded.path, dirs, binds, console,
            lambda s: shell_macros(loaded, macros, _context(options), s.target, s.stage, s.phase),
            options.interactive, settings.limits(), settings.time_limit(),
        )  # fmt: skip
        with _batch_priority(console, options.batch_priority):
            runner.run_jobs(compiled.scripts)
            emitted = _package(compiled, dirs, host, options, console)
        if options.verify is None:
            manifests = write_manifests(loaded.path.parent, emitted, options.architecture)
        elif manifest_matches(options.verify, emitted):
            console.line(f'Verified manifest "{options.verify}"')
            manifests = []
        else:
            raise BuildError(
                f'Built manifest does not match verification manifest "{options.verify}"'
            )
        _sync(emitted, options.output)
        if options.cleanup:
            _cleanup(loaded, dirs)
        console.line(f"Build took {time.monotonic() - started:.1f}s")
        mismatch = version_mismatch(recipe)
        if mismatch is not None:
            console.line(mismatch)
        console.line(f"Build finished successfully at {datetime.now().astimezone().isoformat()}")
        console.line(f"Build log: {dirs.log}")
    return BuildResult(tuple(emitted), tuple(manifests), dirs.log)


def _package(
    compiled: CompiledRecipe, dirs: BuildDirs, host: BuildRoot, options: BuildOptions,
    console: Console,
) -> list[Emitted]:  # fmt: skip
    recipe = compiled.loaded.recipe
    install = dirs.install_root()
    analyser = Analyser(
        install_root=install,
        rules=compiled.packages.rules,
        options=AnalysisOptions(
            strip=recipe.strip,
            debug=recipe.debug,
            lastrip=recipe.lastrip,
            compressman=recipe.compressman,
        ),
        root_exists=host.exists,
        pkgconfig_dirs=host.pkgconfig_dirs(),
        log=lambda text: console.line(f"│A│ {text}"),
    )
    paths = list(walk_install_root(install)) if install.is_dir() else []
    buckets: dict[str, Bucket] = analyser.run(paths)
    console.line("Packaging")
    emitted: list[Emitted] = []
    for name in sorted(buckets):
        package = compiled.packages.get(name)
        if package is None:
            raise BuildError(f"files were collected for unknown package {name}")
        meta = package_meta(
            recipe, package, buckets[name], build_release=options.build_release,
            architecture=options.architecture,
        )  # fmt: skip
        done = write_package(dirs.artefacts, meta, buckets[name].paths)
        console.line(f"Emitted {done.file.name}")
        emitted.append(done)
    return emitted


def chroot(path: Path, macros: MacroSet, options: BuildOptions) -> int:
    """An interactive shell in the build root of the recipe's last build, with the build
    phase's environment and every macro (as at a breakpoint); its exit status."""
    loaded = load_recipe(path)
    compiled = compile_recipe(loaded, macros, _context(options))
    recipe = loaded.recipe
    dirs = BuildDirs(
        options.cache_dir.resolve(), f"{recipe.name}-{recipe.version}-{recipe.release}"
    )
    if not (dirs.root / "usr").is_dir() or not dirs.build.is_dir():
        raise BuildError("build root doesn't exist, make sure to run build first")
    # A root made by moss holds its own `/usr`; otherwise it was made from the host's, with
    # the build's layer over it if it had one.
    layer = dirs.layer / "usr"
    root_binds = (
        ()
        if (dirs.root / ".moss").is_dir()
        else HostRoot(layer=layer if layer.is_dir() else None).populate(
            dirs.root, networking=recipe.networking
        )
    )
    target = compiled.scripts[-1].target if compiled.scripts else options.architecture
    script = next(
        (s for s in compiled.scripts if s.target == target and s.phase is Phase.BUILD), None
    )
    stage = Stage.NONE if script is None else script.stage
    profile = "" if script is None else breakpoint_profile(script.preamble)
    profile += shell_macros(loaded, macros, _context(options), target, stage, Phase.BUILD)
    write_file(dirs.build / ".profile", profile)
    spec = build_spec(
        dirs, (*root_binds, *mason_binds(dirs, loaded.path.parent)),
        networking=recipe.networking, workdir="/mason/build",
        env={"HOME": "/mason/build", "PATH": "/usr/bin:/usr/sbin", "TERM": "xterm-256color"},
    )  # fmt: skip
    try:
        return run_container(spec, ["/usr/bin/bash", "--login"], stdin=sys.stdin)
    except ContainerError as err:
        raise BuildError(f"container: {err}") from err


@contextmanager
def _batch_priority(console: Console, enabled: bool) -> Iterator[None]:
    """SCHED_BATCH for boulder and everything it starts, until the build ends."""
    if not enabled:
        yield
        return
    console.line("Changing boulder thread priority to SCHED_BATCH during build:")
    previous = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError as err:
        console.line(f"└─ priority not changed: {err.strerror}")
        yield
        return
    console.line("└─ priority set.")
    try:
        yield
    finally:
        os.sched_setscheduler(0, *previous)


def _cleanup(loaded: LoadedRecipe, dirs: BuildDirs) -> None:
    """Delete the build's root, trees and artefacts and this recipe's cached upstreams."""
    for directory in (dirs.root, dirs.build, dirs.artefacts, dirs.scripts, dirs.layer):
        remove_tree(directory)
    for upstream in loaded.recipe.upstreams:
        if isinstance(upstream, GitUpstream):
            remove_tree(git_cache_path(dirs.cache, upstream))
        else:
            plain_cache_path(dirs.cache, upstream).unlink(missing_ok=True)


def upstream_version(url: str) -> str | None:
    """The version a plain upstream's file name carries: the last dash-, underscore- or
    `v`-separated part of its stem that starts with a digit."""
    name = url_file_name(url)
    stem = re.sub(r"(\.(tar|t?gz|tbz2?|txz|tzst|zip|bz2|xz|zst|lz|7z))+$", "", name)
    found = re.findall(r"(?:^|[-_v])(\d[0-9A-Za-z.+~]*)", stem)
    return found[-1] if found else None


def version_mismatch(recipe: Recipe) -> str | None:
    """The (non-fatal) warning when the first plain upstream's version is not the recipe's."""
    first = next((u for u in recipe.upstreams if isinstance(u, PlainUpstream)), None)
    found = None if first is None else upstream_version(first.url)
    if found is None or found == recipe.version:
        return None
    return (
        "Warning | 'version' and first parsed upstream version do not match. "
        f"Expected: {found}, got: {recipe.version}"
    )


def _sync(emitted: list[Emitted], output: Path) -> None:
    """Hard-link (else copy) each package into the output directory, replacing old ones."""
    for package in emitted:
        target = output / package.file.name
        target.unlink(missing_ok=True)
        try:
            os.link(package.file, target)
        except OSError:
            shutil.copy2(package.file, target)


__all__ = [
    "HOST_PROFILE",
    "BuildOptions",
    "BuildResult",
    "build",
    "default_cache_dir",
]

"""Build roots (spec §3.4): the host's `/usr`, or packages installed by moss from a profile's
repositories into the build's root directory (the same store, VFS and blit as moss).

`--extra-repo` repositories (a build controller's freshly published packages) come on top of
either: added above the profile's repositories, or, on the host profile, composed by moss into
a layer that the build sees over the host's `/usr`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from boulder.build.container import remove_tree
from boulder.errors import BuildError, ProfileError
from boulder.profiles import Profile
from boulder.recipe.model import Recipe
from moss_core.client import Client, QuietReporter
from moss_core.client.plan import parse_provider
from moss_core.container import Mount
from moss_core.errors import MossError
from moss_core.installation import Installation
from moss_core.repository import (
    Repository,
    RepositoryConfig,
    RepositoryError,
    add_repository,
    refresh,
    repo_state_dir,
    to_uri,
)

# What every build root holds (spec §3.4), before the recipe's own needs.
BASE_PACKAGES = (
    "bash", "boulder", "coreutils", "dash", "diffutils", "findutils", "gawk", "glibc-devel",
    "grep", "layout", "libarchive", "linux-headers", "os-info", "pkgconf", "sed", "util-linux",
    "binary(git)", "binary(hx)", "binary(less)", "binary(nano)", "binary(ps)", "binary(rg)",
    "binary(vim)",
)  # fmt: skip


def _base(recipe: Recipe) -> set[str]:
    wanted = set(BASE_PACKAGES)
    if recipe.toolchain == "llvm":
        wanted.add("clang")
    else:
        wanted.update(("binary(ld.bfd)", "binary(gcc)", "binary(g++)"))
    if recipe.emul32:
        wanted.update(
            ("glibc-32bit-devel", "clang-32bit")
            if recipe.toolchain == "llvm"
            else ("gcc-32bit", "libstdc++-32bit-devel")
        )
    if recipe.mold:
        wanted.add("binary(mold)")
    return wanted


def root_packages(
    recipe: Recipe, action_dependencies: Iterable[str], base: Sequence[str] | None = None
) -> list[str]:
    """The sorted, de-duplicated set of packages a recipe's build root is made of: the base
    set and toolchain (or the profile's own `packages`), then what the recipe needs. Archives
    are unpacked by boulder, so unlike upstream no `bsdtar` is added for them."""
    wanted = _base(recipe) if base is None else set(base)
    wanted.update(recipe.builddeps)
    wanted.update(recipe.checkdeps)
    for _name, profile in recipe.profiles:
        wanted.update(profile.builddeps)
        wanted.update(profile.checkdeps)
    wanted.update(action_dependencies)
    return sorted(wanted)


def _repositories(profile: Profile) -> list[Repository]:
    try:
        return [r.as_moss_repository() for r in profile.repositories]
    except ProfileError as err:
        raise ProfileError(f"profile {profile.id}: {err}") from err


def extra_repositories(uris: Sequence[str], above: int = 0) -> list[Repository]:
    """The `--extra-repo` repositories (a `stone.index` URI or absolute path each), all above
    priority `above`, the first given highest."""
    repositories = []
    for number, uri in enumerate(uris, start=1):
        try:
            repositories.append(
                Repository(f"extra-{number}", to_uri(uri), above + 1 + len(uris) - number)
            )
        except RepositoryError as err:
            raise BuildError(f"--extra-repo {uri}: {err}") from None
    return repositories


def compose_layer(
    repositories: Sequence[Repository],
    wanted: Sequence[str],
    directory: Path,
    log: Callable[[str], None],
) -> Path | None:
    """Install into the moss root `directory` the packages of `repositories` that provide what
    `wanted` names, with their dependencies as far as those repositories provide them (the
    host provides the rest, as it provides everything else on the host profile). Its `/usr`,
    or None when the repositories provide nothing wanted.

    The root has its own download cache: builds running side by side never share a partial
    download (a `file://` package is hard-linked, not copied)."""
    directory.mkdir(parents=True)
    reporter = QuietReporter()
    try:
        installation = Installation.open(directory)
        for repo in repositories:
            add_repository(installation, repo)
        with Client(installation, reporter) as client:
            registry = client.registry()
            names = [n for n in wanted if registry.first(parse_provider(n)) is not None]
            if names:
                log(f"Laying over the host's /usr, from the extra repositories: {', '.join(names)}")
                client.install(names, allow_unmet=True)
    except (MossError, OSError) as err:
        raise BuildError(f"layer from the extra repositories: {err}") from err
    if not names:
        log("No build dependency is in the extra repositories")
        remove_tree(directory)
        return None
    for line in reporter.lines:
        log(line)
    return directory / "usr"


def profile_moss_dir(cache: Path, profile: Profile) -> Path:
    """Where a profile's repository indexes are kept between builds."""
    return cache / "moss" / "profiles" / profile.id


def _refreshed(profile: Profile, moss_dir: Path) -> bool:
    if not moss_dir.is_dir():
        return False
    installation = Installation.open(moss_dir)
    return all(
        (repo_state_dir(installation, repo) / "db").is_file() for repo in _repositories(profile)
    )


def refresh_profile(profile: Profile, moss_dir: Path) -> list[tuple[str, int]]:
    """Fetch every repository index of the profile into its moss directory: (name, packages)."""
    moss_dir.mkdir(parents=True, exist_ok=True)
    try:
        installation = Installation.open(moss_dir)
        config = RepositoryConfig.load(installation)
        counts = []
        for repo in _repositories(profile):
            config.add(repo)
            counts.append((repo.id, refresh(installation, repo)))
        return counts
    except MossError as err:
        raise ProfileError(f"profile {profile.id}: {err}") from err


@dataclass
class RepositoryRoot:
    """A build root installed by the moss client from the profile's repositories.

    The indexes come from the profile's moss directory, fetched by `profile add|update`,
    `build -u`, or by the first build that needs them. Those of `extra` (above the profile's)
    are fetched for every build: they change between builds.
    """

    profile: Profile
    packages: Sequence[str]
    moss_dir: Path
    download_cache: Path
    log: Callable[[str], None]
    update: bool = False
    extra: Sequence[Repository] = ()
    _root: Path | None = None

    def populate(self, root: Path, *, networking: bool) -> tuple[Mount, ...]:
        self._root = root
        if self.update or not _refreshed(self.profile, self.moss_dir):
            for name, count in refresh_profile(self.profile, self.moss_dir):
                self.log(f"{name} updated ({count} packages)")
        self.download_cache.mkdir(parents=True, exist_ok=True)
        reporter = QuietReporter()
        try:
            indexes = Installation.open(self.moss_dir)
            installation = Installation.open(root, cache=self.download_cache)
            config = RepositoryConfig.load(installation)
            for repo in _repositories(self.profile):
                config.add(repo)
                shutil.copytree(
                    repo_state_dir(indexes, repo), repo_state_dir(installation, repo),
                    dirs_exist_ok=True,
                )  # fmt: skip
            for repo in self.extra:
                self.log(f"{repo.id} ({repo.uri}): {add_repository(installation, repo)} packages")
            with Client(installation, reporter) as client:
                client.install(list(self.packages))
        except (MossError, OSError) as err:
            raise BuildError(f"build root from profile {self.profile.id}: {err}") from err
        for line in reporter.lines:
            self.log(line)
        if networking and Path("/etc/resolv.conf").exists():
            (root / "etc").mkdir(exist_ok=True)
            shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        return ()

    def _host(self, path: str) -> Path:
        if self._root is None:
            raise BuildError("the build root has not been populated")
        return self._root / path.lstrip("/")

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._host(path))

    def pkgconfig_dirs(self) -> list[Path]:
        dirs = (self._host("/usr/lib/pkgconfig"), self._host("/usr/share/pkgconfig"))
        return [d for d in dirs if d.is_dir()]

"""Build profiles: which repositories a build root is composed from.

The embedded profile `host` has none: its build root is the host's own `/usr`. Other profiles
live in `profile.{kdl,yaml}` and `profile.d/*.{kdl,yaml}` (KDL beats YAML of the same name) of
`/usr/share/boulder` and of boulder's configuration directory (`--config-dir`, else
`/etc/boulder` for root and `$XDG_CONFIG_HOME/boulder` for others), later files winning.
`boulder profile add` saves `profile.d/<id>.kdl` in the configuration directory, in the layout
upstream boulder uses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from boulder.errors import ProfileError
from moss_core import kdl
from moss_core.repository import (
    Repository,
    RepositoryError,
    RootIndex,
    key_from_fields,
    location_from_fields,
    sanitise_name,
    source_nodes,
)

HOST = "host"
SYSTEM_DIR = Path("/usr/share/boulder")
_SPEC_KEYS = {"name", "uri", "base-uri", "channel", "version", "arch", "priority", "key"}
_SPEC_FORM = (
    "name=…,uri=…[,priority=N][,key=…] or name=…,base-uri=…,version=…[,channel=…][,arch=…][,key=…]"
)


@dataclass(frozen=True, slots=True)
class ProfileRepository:
    name: str
    uri: str
    """The `stone.index`, or with `root_index` the repository's base URI."""
    priority: int = 0
    root_index: RootIndex | None = None
    key: str | None = None
    """The minisign public key its indexes must be signed with (see moss's repositories)."""

    def describe(self) -> str:
        try:
            return self.as_moss_repository().describe()
        except ProfileError:
            return self.uri  # listed as written; using it reports what is wrong

    def as_moss_repository(self) -> Repository:
        try:
            return Repository(
                id=sanitise_name(self.name),
                uri=self.uri,
                priority=self.priority,
                root_index=self.root_index,
                public_key=self.key,
            )
        except RepositoryError as err:
            raise ProfileError(f"repository {self.name}: {err}") from None


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    repositories: tuple[ProfileRepository, ...] = ()
    packages: tuple[str, ...] | None = None
    """What every build root of this profile holds; None: boulder's base set and toolchain."""

    @property
    def is_host(self) -> bool:
        return self.id == HOST


def profile_id(name: str) -> str:
    """Characters other than alphanumerics and `-` become `_`, as upstream does."""
    return re.sub(r"[^A-Za-z0-9-]", "_", name)


def default_config_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/etc/boulder")
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "boulder"


def parse_repository_spec(text: str) -> ProfileRepository:
    """`name=…,uri=…[,priority=N]`, or `base-uri=…,version=…` and the rest of a root index in
    place of `uri` (the forms of `boulder profile add -r`)."""
    fields: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _SPEC_KEYS or key in fields:
            raise ProfileError(f"invalid repository {text!r}: expected {_SPEC_FORM}")
        fields[key] = value.strip()
    if "name" not in fields:
        raise ProfileError(f"invalid repository {text!r}: expected {_SPEC_FORM}")
    try:
        fields["priority"] = int(fields.get("priority", "0"))
    except ValueError:
        raise ProfileError(f"invalid repository {text!r}: priority is not a number") from None
    return _repository(fields.pop("name"), fields, None)


def _repository(name: str, fields: Mapping[str, Any], where: str | None) -> ProfileRepository:
    priority = fields.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise ProfileError(f"repository {name}: invalid priority {priority!r}", key=where)
    try:
        uri, root_index = location_from_fields(fields)
        key = key_from_fields(fields)
    except RepositoryError as err:
        raise ProfileError(f"repository {name}: {err}", key=where) from None
    if not isinstance(uri, str):
        raise ProfileError(f"repository {name} needs a uri or a base-uri", key=where)
    return ProfileRepository(name, uri, priority, root_index, key)


def _profile(name: str, repos: Any, packages: Any, where: str) -> Profile:
    if not isinstance(repos, dict):
        raise ProfileError(f"profile {name}: expected a map of repositories", key=where)
    entries = []
    for repo, fields in repos.items():
        if not isinstance(fields, dict):
            raise ProfileError(f"profile {name}: repository {repo}: expected fields", key=where)
        entries.append(_repository(str(repo), fields, where))
    if packages is not None and (
        not isinstance(packages, list) or not all(isinstance(p, str) for p in packages)
    ):
        raise ProfileError(f"profile {name}: packages must be a list of names", key=where)
    chosen = None if packages is None else tuple(packages)
    return Profile(profile_id(name), tuple(entries), chosen)


def _read_yaml(path: Path) -> list[Profile]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as err:
        raise ProfileError(f"cannot read profile: {err}", key=str(path)) from err
    if not isinstance(data, dict):
        raise ProfileError("expected a map of profile ids", key=str(path))
    profiles = []
    for name, body in data.items():
        body = body if isinstance(body, dict) else {}
        profiles.append(
            _profile(str(name), body.get("repositories"), body.get("packages"), str(path))
        )
    return profiles


def _read_kdl(path: Path) -> list[Profile]:
    try:
        nodes = kdl.load(path)
    except kdl.KdlError as err:
        raise ProfileError(f"cannot read profile: {err}") from err
    profiles = []
    for node in nodes:
        where = f"{path}:{node.line}"
        repos: dict[str, dict[str, Any]] = {}
        packages: list[Any] | None = None
        for child in node.children:
            if child.name == "repositories":
                for repo in child.children:
                    repos[repo.name] = {f.name: f.args[0] for f in repo.children if f.args}
            elif child.name == "packages":
                packages = list(child.args)
        profiles.append(_profile(node.name, repos, packages, where))
    return profiles


def _to_kdl(profile: Profile) -> kdl.Node:
    repositories = [
        kdl.Node(
            r.name,
            children=[
                *source_nodes(r.as_moss_repository()),
                kdl.Node("priority", [r.priority]),
            ],
        )
        for r in profile.repositories
    ]
    children = [kdl.Node("repositories", children=repositories)]
    if profile.packages is not None:
        children.append(kdl.Node("packages", list(profile.packages)))
    return kdl.Node(profile.id, children=children)


@dataclass(frozen=True, slots=True)
class ProfileStore:
    """Profiles saved in `config_dir`, over those shipped in `/usr/share/boulder`."""

    config_dir: Path
    system_dir: Path | None = SYSTEM_DIR

    def _files(self) -> list[Path]:
        files: list[Path] = []
        for base in (self.system_dir, self.config_dir):
            if base is None:
                continue
            stems = [("", "profile")]
            directory = base / "profile.d"
            if directory.is_dir():
                names = {p.stem for p in directory.iterdir() if p.suffix in (".kdl", ".yaml")}
                stems += [("profile.d", stem) for stem in sorted(names)]
            for sub, stem in stems:
                for suffix in (".kdl", ".yaml"):
                    path = base / sub / f"{stem}{suffix}"
                    if path.is_file():
                        files.append(path)
                        break
        return files

    def load(self) -> dict[str, Profile]:
        """Every profile by id (later files win), the embedded `host` profile first."""
        found: dict[str, Profile] = {HOST: Profile(HOST)}
        for path in self._files():
            read = _read_kdl if path.suffix == ".kdl" else _read_yaml
            for profile in read(path):
                found[profile.id] = profile
        return found

    def get(self, name: str) -> Profile:
        profile = self.load().get(profile_id(name))
        if profile is None:
            raise ProfileError(f"cannot find the provided profile: {profile_id(name)}")
        return profile

    def save(self, profile: Profile) -> Path:
        if profile.is_host:
            raise ProfileError("the host profile is built in and cannot be replaced")
        path = self.config_dir / "profile.d" / f"{profile.id}.kdl"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_text(kdl.dumps([_to_kdl(profile)]), encoding="utf-8")
        partial.replace(path)
        # A YAML file of the same name would be hidden by this one: remove the confusion.
        path.with_suffix(".yaml").unlink(missing_ok=True)
        return path

"""Build profiles: which repositories a build root is composed from.

The embedded profile `host` has none: its build root is the host's own `/usr`. Other profiles
are saved as `profile.d/<id>.yaml` in boulder's configuration directory (`--config-dir`, else
`/etc/boulder` for root and `$XDG_CONFIG_HOME/boulder` for others); `profile.d` of
`/usr/share/boulder` is read too, with lower precedence.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from boulder.errors import ProfileError

HOST = "host"
_SYSTEM_DIR = Path("/usr/share/boulder")


@dataclass(frozen=True, slots=True)
class ProfileRepository:
    name: str
    uri: str
    priority: int = 0


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
    """`name=…,uri=…[,priority=N]` (the form of `boulder profile add -r`)."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ProfileError(f"invalid repository {text!r}: expected name=…,uri=…[,priority=N]")
        fields[key.strip()] = value.strip()
    unknown = set(fields) - {"name", "uri", "priority"}
    if unknown or "name" not in fields or "uri" not in fields:
        raise ProfileError(f"invalid repository {text!r}: expected name=…,uri=…[,priority=N]")
    try:
        priority = int(fields.get("priority", "0"))
    except ValueError:
        raise ProfileError(f"invalid repository {text!r}: priority is not a number") from None
    return ProfileRepository(fields["name"], fields["uri"], priority)


def _parse(path: Path, data: Any) -> list[Profile]:
    if not isinstance(data, dict):
        raise ProfileError("expected a map of profile ids", key=str(path))
    profiles: list[Profile] = []
    for name, body in data.items():
        repos = body.get("repositories") if isinstance(body, dict) else None
        if not isinstance(repos, dict):
            raise ProfileError(f"profile {name}: expected a map of repositories", key=str(path))
        entries: list[ProfileRepository] = []
        for repo, fields in repos.items():
            if not isinstance(fields, dict) or not isinstance(fields.get("uri"), str):
                raise ProfileError(f"profile {name}: repository {repo} needs a uri", key=str(path))
            priority = fields.get("priority", 0)
            if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
                raise ProfileError(
                    f"profile {name}: repository {repo}: invalid priority", key=str(path)
                )
            entries.append(ProfileRepository(str(repo), fields["uri"], priority))
        packages = body.get("packages")
        if packages is not None and (
            not isinstance(packages, list) or not all(isinstance(p, str) for p in packages)
        ):
            raise ProfileError(f"profile {name}: packages must be a list of names", key=str(path))
        chosen = None if packages is None else tuple(packages)
        profiles.append(Profile(profile_id(str(name)), tuple(entries), chosen))
    return profiles


def _render(profile: Profile) -> dict[str, Any]:
    body: dict[str, Any] = {
        "repositories": {
            r.name: {"uri": r.uri, "priority": r.priority} for r in profile.repositories
        }
    }
    if profile.packages is not None:
        body["packages"] = list(profile.packages)
    return {profile.id: body}


@dataclass(frozen=True, slots=True)
class ProfileStore:
    """Profiles saved in `config_dir`, over those shipped in `/usr/share/boulder`."""

    config_dir: Path
    system_dir: Path | None = _SYSTEM_DIR

    def _files(self) -> list[Path]:
        dirs = [d for d in (self.system_dir, self.config_dir) if d is not None]
        return [f for d in dirs for f in sorted((d / "profile.d").glob("*.yaml"))]

    def load(self) -> dict[str, Profile]:
        """Every profile by id (later files win), the embedded `host` profile first."""
        found: dict[str, Profile] = {HOST: Profile(HOST)}
        yaml = YAML(typ="safe")
        for path in self._files():
            try:
                data = yaml.load(path.read_text(encoding="utf-8"))
            except (OSError, YAMLError) as err:
                raise ProfileError(f"cannot read profile: {err}", key=str(path)) from err
            for profile in _parse(path, data):
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
        directory = self.config_dir / "profile.d"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{profile.id}.yaml"
        partial = path.with_name(path.name + ".part")
        yaml = YAML(typ="safe")
        yaml.default_flow_style = False
        with open(partial, "w", encoding="utf-8") as out:
            yaml.dump(_render(profile), out)
        partial.replace(path)
        return path

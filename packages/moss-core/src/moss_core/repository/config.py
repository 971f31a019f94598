"""Repository configuration: where it is read from, which definition wins, how it is written.

Files (each a map of repository id to definition), lowest precedence first:
`usr/share/moss/repo.{kdl,yaml}`, `usr/share/moss/repo.d/*.{kdl,yaml}`, `etc/moss/repo.{kdl,yaml}`,
`etc/moss/repo.d/*.{kdl,yaml}`. `x.kdl` hides `x.yaml` in the same directory. For one id, a
definition under `etc` beats one under `usr/share`; within a tree the file moss writes for that id
(`repo.d/<id>.kdl` or `.yaml`) beats other files, and otherwise the later file in the order above
(`repo.d` by name) wins. Files or entries that cannot be read are skipped and reported in
`warnings`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from moss_core import kdl
from moss_core.fs import write_atomically
from moss_core.installation import Installation
from moss_core.repository._model import (
    Repository,
    RepositoryError,
    key_from_fields,
    location_from_fields,
    sanitise_name,
    writable_id,
)

TREES = ("usr/share/moss", "etc/moss")
WRITE_DIR = "etc/moss/repo.d"
_FIELDS = (
    "description",
    "uri",
    "base-uri",
    "channel",
    "version",
    "arch",
    "priority",
    "active",
    "key",
)


@dataclass(frozen=True)
class _Definition:
    repo: Repository
    file: Path
    # (tree, written by moss for this id, file order): the highest wins.
    rank: tuple[int, bool, int]


class RepositoryConfig:
    """The merged repository configuration of one installation."""

    def __init__(self, installation: Installation) -> None:
        self.installation = installation
        self.warnings: list[str] = []
        self._definitions: dict[str, list[_Definition]] = {}
        self._scan()

    @classmethod
    def load(cls, installation: Installation) -> RepositoryConfig:
        return cls(installation)

    def repositories(self) -> list[Repository]:
        """Every repository, active or not: priority descending, then id ascending."""
        winners = (self._winner(repo_id).repo for repo_id in self._definitions)
        return sorted(winners, key=lambda repo: (-repo.priority, repo.id))

    def get(self, repo_id: str) -> Repository | None:
        return self._winner(repo_id).repo if repo_id in self._definitions else None

    def file_of(self, repo_id: str) -> Path | None:
        """The file the winning definition of `repo_id` comes from."""
        return self._winner(repo_id).file if repo_id in self._definitions else None

    def add(self, repo: Repository) -> None:
        """Write (or replace) `etc/moss/repo.d/<id>.kdl`, atomically."""
        path = self._write_path(writable_id(repo.id))
        self._refuse_shared_files(repo.id)
        previous = self.get(repo.id)
        try:
            write_atomically(path, kdl.dumps([_to_kdl(repo)]))
        except OSError as err:
            raise RepositoryError(f"{err.filename or path}: {err.strerror}") from None
        self._scan()
        if previous is not None and previous.key() != repo.key():
            self._drop_state(previous)

    def remove(self, repo_id: str) -> None:
        """Delete the files moss wrote for `repo_id` and its `.moss/repo/<k>` directory.

        A definition in any other file (under `usr/share`, or an `etc` file moss did not write)
        is not ours to edit: the repository can only be disabled then.
        """
        definitions = self._definitions.get(repo_id)
        if not definitions:
            raise RepositoryError(f"{repo_id} not found")
        owned = self._owned_files(repo_id)
        foreign = [d.file for d in definitions if d.file not in owned]
        if foreign:
            raise RepositoryError(
                f"{repo_id} cannot be removed: it is defined in {foreign[-1]}, which moss does "
                f"not edit; use `moss repo disable {repo_id}` instead"
            )
        self._refuse_shared_files(repo_id)
        repo = self._winner(repo_id).repo
        for path in owned:
            try:
                path.unlink(missing_ok=True)
            except OSError as err:
                raise RepositoryError(f"{path}: {err.strerror}") from None
        self._scan()
        self._drop_state(repo)

    def set_active(self, repo_id: str, active: bool) -> None:
        """Rewrite `etc/moss/repo.d/<id>.kdl` with `active` set."""
        repo = self.get(repo_id)
        if repo is None:
            raise RepositoryError(f"{repo_id} not found")
        self.add(replace(repo, active=active))

    def _winner(self, repo_id: str) -> _Definition:
        return max(self._definitions[repo_id], key=lambda definition: definition.rank)

    def _write_path(self, repo_id: str) -> Path:
        return self.installation.root / WRITE_DIR / f"{repo_id}.kdl"

    def _owned_files(self, repo_id: str) -> list[Path]:
        if repo_id != sanitise_name(repo_id):
            return []
        directory = self.installation.root / WRITE_DIR
        return [directory / f"{repo_id}.kdl", directory / f"{repo_id}.yaml"]

    def _refuse_shared_files(self, repo_id: str) -> None:
        """Rewriting `<id>.kdl` replaces it, or hides `<id>.yaml`, and deleting them deletes
        them: never when they define other repositories too."""
        for owned in self._owned_files(repo_id):
            shared = sorted(
                other
                for other, definitions in self._definitions.items()
                if other != repo_id and any(d.file == owned for d in definitions)
            )
            if shared:
                raise RepositoryError(
                    f"{owned} also defines {', '.join(shared)}; move {repo_id} to its own file "
                    "by hand first"
                )

    def _drop_state(self, repo: Repository) -> None:
        """Delete a repository's `.moss/repo/<k>`, unless another repository shares its URI."""
        if any(other.key() == repo.key() for other in self.repositories()):
            return
        shutil.rmtree(self.installation.repo_dir / repo.key(), ignore_errors=True)

    def _scan(self) -> None:
        self.warnings = []
        self._definitions = {}
        order = 0
        for tree_rank, tree in enumerate(TREES):
            base = self.installation.root / tree
            for path in self._config_files(base):
                order += 1
                for repo_id, repo in self._read(path).items():
                    own = path.parent == base / "repo.d" and path.stem == repo_id
                    definition = _Definition(repo, path, (tree_rank, own, order))
                    self._definitions.setdefault(repo_id, []).append(definition)

    def _read(self, path: Path) -> dict[str, Repository]:
        if path.suffix == ".kdl":
            return self._read_kdl(path)
        return self._read_yaml(path)

    def _read_kdl(self, path: Path) -> dict[str, Repository]:
        try:
            nodes = kdl.load(path)
        except kdl.KdlError as err:
            self.warnings.append(f"{err}; file ignored")
            return {}
        found: dict[str, Repository] = {}
        for node in nodes:
            where = f"{path}:{node.line}: repository {node.name!r}"
            if node.args or node.props:
                self.warnings.append(f"{where}: fields must be child nodes; ignored")
                continue
            fields: dict[str, object] = {}
            for child in node.children:
                if len(child.args) != 1 or child.props or child.children:
                    self.warnings.append(
                        f"{path}:{child.line}: repository {node.name!r}: "
                        f"{child.name} takes exactly one value; repository ignored"
                    )
                    break
                fields[child.name] = child.args[0]
            else:
                repo = self._repository(node.name, fields, where)
                if repo is not None:
                    found[node.name] = repo
        return found

    def _read_yaml(self, path: Path) -> dict[str, Repository]:
        # Imported here: most roots have no YAML file, and ruamel.yaml is slow to import.
        from ruamel.yaml import YAML
        from ruamel.yaml.error import MarkedYAMLError, YAMLError

        try:
            data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        except MarkedYAMLError as err:
            mark = err.problem_mark
            line = f":{mark.line + 1}" if mark is not None else ""
            self.warnings.append(f"{path}{line}: {err.problem}; file ignored")
            return {}
        except (YAMLError, OSError, UnicodeDecodeError) as err:
            problem = err.strerror if isinstance(err, OSError) else str(err).splitlines()[0]
            self.warnings.append(f"{path}: {problem}; file ignored")
            return {}
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.warnings.append(f"{path}: expected a map of repository names; file ignored")
            return {}
        found: dict[str, Repository] = {}
        for repo_id, fields in data.items():
            where = f"{path}: repository {repo_id!r}"
            if not isinstance(repo_id, str) or not isinstance(fields, dict):
                self.warnings.append(f"{where}: expected a name and a map of fields; ignored")
                continue
            repo = self._repository(repo_id, fields, where)
            if repo is not None:
                found[repo_id] = repo
        return found

    def _repository(
        self, repo_id: str, fields: Mapping[str, object], where: str
    ) -> Repository | None:
        for name in fields:
            if name not in _FIELDS:
                self.warnings.append(f"{where}: unknown field {name!r} ignored")
        try:
            return _from_fields(repo_id, fields)
        except RepositoryError as err:
            self.warnings.append(f"{where}: {err}; ignored")
            return None

    def _config_files(self, base: Path) -> list[Path]:
        """`repo.*` then `repo.d/*` by name, each name once: `.kdl` hides `.yaml`."""
        files = []
        single = _pick(base, "repo")
        if single is not None:
            files.append(single)
        directory = base / "repo.d"
        try:
            names = [p.name for p in directory.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            names = []
        except OSError as err:
            self.warnings.append(f"{directory}: {err.strerror}; directory ignored")
            names = []
        stems = sorted({Path(name).stem for name in names if name.endswith((".kdl", ".yaml"))})
        files += (path for stem in stems if (path := _pick(directory, stem)) is not None)
        return files


def _from_fields(repo_id: str, fields: Mapping[str, object]) -> Repository:
    uri, root_index = location_from_fields(fields)
    priority = fields.get("priority")
    description, active = fields.get("description", ""), fields.get("active", True)
    if not isinstance(uri, str):
        source = "uri" if root_index is None else "base-uri"
        raise RepositoryError(f"{source} is required and must be a string")
    if priority is None:
        raise RepositoryError("priority is required")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise RepositoryError(f"priority must be a whole number, not {priority!r}")
    if not isinstance(description, str):
        raise RepositoryError("description must be a string")
    if not isinstance(active, bool):
        raise RepositoryError(f"active must be true or false, not {active!r}")
    return Repository(
        repo_id, uri, priority, description, active, root_index, key_from_fields(fields)
    )


def _pick(directory: Path, stem: str) -> Path | None:
    for suffix in (".kdl", ".yaml"):
        path = directory / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _to_kdl(repo: Repository) -> kdl.Node:
    return kdl.Node(
        repo.id,
        children=[
            kdl.Node("description", [repo.description]),
            *source_nodes(repo),
            kdl.Node("priority", [repo.priority]),
            kdl.Node("active", [repo.active]),
        ],
    )


def source_nodes(repo: Repository) -> list[kdl.Node]:
    """Where the repository is, as KDL child nodes: `uri`, or `base-uri` and its version; and
    `key`, the public key pinned for it, if any."""
    root = repo.root_index
    key = [] if repo.public_key is None else [kdl.Node("key", [repo.public_key])]
    if root is None:
        return [kdl.Node("uri", [repo.uri]), *key]
    return [
        kdl.Node("base-uri", [repo.uri]),
        kdl.Node("channel", [root.channel]),
        kdl.Node("version", [root.version]),
        kdl.Node("arch", [root.arch]),
        *key,
    ]

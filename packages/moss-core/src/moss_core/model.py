"""The system model (`etc/moss/system-model.kdl`): which repositories and packages a system has.

When the file exists it is authoritative: repositories come only from it and `sync` makes the
system match it. Every state stores a model of itself at `usr/lib/system-model.kdl`.

Beyond upstream, a package entry may carry `id="<sha256>"`, and a `locked` section lists the
exact dependencies: `moss state export` writes both, so `moss sync --import` of an exported
model reproduces the same package ids wherever the same repositories are reachable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from moss_core import kdl
from moss_core.errors import MossError
from moss_core.repository import (
    Repository,
    RepositoryError,
    key_from_fields,
    location_from_fields,
    source_nodes,
)
from stone import Provider


class ModelError(MossError):
    """The system model cannot be read or used."""


@dataclass(frozen=True)
class ModelPackage:
    provider: Provider
    id: str | None = None


@dataclass(frozen=True)
class SystemModel:
    repositories: tuple[Repository, ...]
    packages: tuple[ModelPackage, ...]
    locked: tuple[str, ...] = ()
    disable_warning: bool = False
    path: Path | None = None


def load_model(path: Path) -> SystemModel:
    """Read a model file; every problem names the file (and line, where there is one)."""
    if not path.is_file():
        raise ModelError(f"system model doesn't exist at {path}")
    nodes = kdl.load(path)
    repositories: list[Repository] = []
    packages: list[ModelPackage] = []
    locked: list[str] = []
    disable_warning = False
    for node in nodes:
        where = f"{path}:{node.line}"
        if node.name == "disable_warning":
            disable_warning = bool(node.args and node.args[0] is True)
        elif node.name == "repositories":
            repositories.extend(
                _repository(child, f"{path}:{child.line}") for child in node.children
            )
        elif node.name == "packages":
            for child in node.children:
                packages.append(
                    ModelPackage(_provider(child.name, f"{path}:{child.line}"), _id(child))
                )
        elif node.name == "locked":
            locked.extend(str(child.props.get("id", child.name)) for child in node.children)
        else:
            raise ModelError(f"{where}: unknown section {node.name!r}")
    return SystemModel(tuple(repositories), tuple(packages), tuple(locked), disable_warning, path)


def _repository(node: kdl.Node, where: str) -> Repository:
    fields = {child.name: (child.args[0] if child.args else None) for child in node.children}
    priority = fields.get("priority")
    try:
        uri, root_index = location_from_fields(fields)
        key = key_from_fields(fields)
    except RepositoryError as err:
        raise ModelError(f"{where}: repository {node.name}: {err}") from None
    if not isinstance(uri, str):
        raise ModelError(f"{where}: repository {node.name} needs a uri or a base-uri")
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise ModelError(f"{where}: repository {node.name} needs a whole-number priority")
    description = fields.get("description")
    try:
        return Repository(
            id=node.name,
            uri=uri,
            priority=priority,
            description=description if isinstance(description, str) else "",
            active=fields.get("enabled", True) is not False,
            root_index=root_index,
            public_key=key,
        )
    except RepositoryError as err:
        raise ModelError(f"{where}: {err}") from None


def _provider(text: str, where: str) -> Provider:
    try:
        return Provider.parse(text)
    except ValueError as err:
        raise ModelError(f"{where}: {err}") from None


def _id(node: kdl.Node) -> str | None:
    value = node.props.get("id")
    return value if isinstance(value, str) else None


def render(
    repositories: Iterable[Repository],
    explicit: Sequence[tuple[str, str | None]],
    locked: Sequence[str] = (),
    *,
    comment: str = "",
) -> str:
    """A model document: `explicit` is (provider text, package id or None) per package."""
    nodes = [
        kdl.Node(
            "repositories",
            children=[
                kdl.Node(
                    repo.id,
                    children=[
                        kdl.Node("description", [repo.description]),
                        *source_nodes(repo),
                        kdl.Node("priority", [repo.priority]),
                        *([] if repo.active else [kdl.Node("enabled", [False])]),
                    ],
                )
                for repo in repositories
            ],
        ),
        kdl.Node(
            "packages",
            children=[
                kdl.Node(text, props={"id": package_id} if package_id else {})
                for text, package_id in explicit
            ],
        ),
    ]
    if locked:
        nodes.append(
            kdl.Node("locked", children=[kdl.Node("package", props={"id": i}) for i in locked])
        )
    header = f"// {comment}\n" if comment else ""
    return header + kdl.dumps(nodes)

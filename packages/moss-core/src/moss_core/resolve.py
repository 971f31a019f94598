"""Dependency resolution: from requested packages to the full set a state needs, in order.

Pure: it asks a `Registry` and returns packages or raises; nothing else is touched. Unlike
upstream, declared `conflicts` are enforced and a missing provider is reported with the chain
of packages that needed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from moss_core.errors import MossError
from moss_core.registry import Package, Registry
from stone import Dependency, Provider


class ResolveError(MossError):
    """The requested packages cannot form a consistent state."""


class MissingProviderError(ResolveError):
    def __init__(self, dependency: Dependency, chain: Sequence[str]):
        self.dependency, self.chain = dependency, tuple(chain)
        needed_by = " <- ".join(self.chain)
        super().__init__(
            f"nothing provides {dependency}" + (f" (needed by {needed_by})" if chain else "")
        )


class MissingPackageError(ResolveError):
    def __init__(self, package_id: str):
        self.package_id = package_id
        super().__init__(f"no such package id: {package_id}")


@dataclass(frozen=True)
class Conflict:
    package: Package
    other: Package
    provider: Provider


class ConflictError(ResolveError):
    def __init__(self, conflicts: Sequence[Conflict]):
        self.conflicts = tuple(conflicts)
        super().__init__(
            "; ".join(
                f"{c.package.name} conflicts with {c.other.name} (which provides {c.provider})"
                for c in self.conflicts
            )
        )


class Lookup(Enum):
    """Where a dependency's provider is looked for, in order, after the packages already chosen."""

    PREFER_INSTALLED = (True, False)
    PREFER_AVAILABLE = (False, True)
    AVAILABLE_ONLY = (False,)
    INSTALLED_ONLY = (True,)


def resolve(
    registry: Registry, roots: Sequence[str], lookup: Lookup, *, allow_unmet: bool = False
) -> list[Package]:
    """Every package the roots need, dependencies before their dependants.

    Breadth first from the roots; a dependency is satisfied first by a package already chosen,
    then by the sources `lookup` names. Cycles are legal and broken arbitrarily. With
    `allow_unmet`, a dependency nothing provides is left unmet instead of refused: for a tree
    laid over another that is trusted to provide it (boulder's layer over the host's `/usr`).
    """
    chosen: dict[str, Package] = {}
    parent: dict[str, str | None] = {}
    provided: dict[Provider, Package] = {}
    edges: dict[str, list[str]] = {}
    layer = list(dict.fromkeys(roots))
    for package_id in layer:
        parent[package_id] = None
    while layer:
        next_layer: list[str] = []
        for package_id in layer:
            if package_id in chosen:
                continue
            package = registry.by_id(package_id)
            if package is None:
                raise MissingPackageError(package_id)
            chosen[package_id] = package
            for provider in package.meta.all_provides():
                provided[provider] = package
            edges[package_id] = []
        for package_id in layer:
            package = chosen[package_id]
            for dependency in package.meta.depends:
                target = _find(registry, provided, dependency, lookup)
                if target is None:
                    if allow_unmet:
                        continue
                    raise MissingProviderError(dependency, _chain(chosen, parent, package_id))
                if target.id not in edges[package_id]:
                    edges[package_id].append(target.id)
                if target.id not in chosen and target.id not in parent:
                    parent[target.id] = package_id
                    next_layer.append(target.id)
                for provider in target.meta.all_provides():
                    provided.setdefault(provider, target)
        layer = next_layer
    return [chosen[package_id] for package_id in _topological(list(chosen), edges)]


def _find(
    registry: Registry, provided: dict[Provider, Package], dependency: Dependency, lookup: Lookup
) -> Package | None:
    provider = Provider(dependency.kind, dependency.name)
    if provider in provided:
        return provided[provider]
    for installed in lookup.value:
        package = registry.first(provider, installed=installed)
        if package is not None:
            return package
    return None


def _chain(
    chosen: dict[str, Package], parent: dict[str, str | None], package_id: str | None
) -> list[str]:
    chain = []
    while package_id is not None:
        chain.append(chosen[package_id].name)
        package_id = parent.get(package_id)
    return chain


def _topological(nodes: list[str], edges: dict[str, list[str]]) -> list[str]:
    """Dependencies first; an edge closing a cycle is ignored."""
    order: list[str] = []
    state: dict[str, int] = {}
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(edges.get(root, ())))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                state[node] = 2
                order.append(node)
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(edges.get(child, ()))))
    return order


def check_conflicts(packages: Sequence[Package]) -> None:
    """Refuse a set in which a package conflicts with a provider another package offers."""
    providers: dict[Provider, Package] = {}
    for package in packages:
        for provider in package.meta.all_provides():
            providers.setdefault(provider, package)
    found = [
        Conflict(package, providers[conflict], conflict)
        for package in packages
        for conflict in package.meta.conflicts
        if conflict in providers and providers[conflict].id != package.id
    ]
    if found:
        raise ConflictError(found)

"""What a request would do, worked out from the registry alone: which packages a sync moves to
and which a removal takes with it. Pure: nothing here touches the system."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moss_core._lazy import lazy_import
from moss_core.client.errors import ClientError
from moss_core.registry import Package, Registry
from stone import Provider, RelationKind

if TYPE_CHECKING:
    from moss_core import resolve
    from moss_core.model import SystemModel
else:
    resolve = lazy_import("moss_core.resolve")


@dataclass(frozen=True)
class SyncPlan:
    packages: tuple[Package, ...]
    explicit: frozenset[str]
    added: tuple[Package, ...]
    updated: tuple[tuple[Package, Package], ...]
    removed: tuple[Package, ...]


@dataclass(frozen=True)
class RemovalPlan:
    removed: tuple[Package, ...]
    """By name: the packages asked for, their dependents and what only they needed."""
    keep: tuple[Package, ...]


def unknown_package(
    argument: str, known: Iterable[str], *, repositories: int | None = None
) -> ClientError:
    """The error for a name no source offers: the closest known names, as dnf and pacman users
    are used to, or, when `repositories` is 0, that there is no repository to look in."""
    if repositories == 0:
        return ClientError(
            f"no package found: {argument} (no repository is configured: "
            "add one with `moss repo add NAME URI`)"
        )
    return ClientError(f"no package found: {_with_suggestion(argument, known)}")


def _with_suggestion(argument: str, known: Iterable[str]) -> str:
    """`argument`, followed by the closest of the `known` names when some are close."""
    close = difflib.get_close_matches(argument, sorted(set(known)), n=3, cutoff=0.75)
    return f"{argument} (did you mean {' or '.join(close)}?)" if close else argument


def parse_provider(text: str) -> Provider:
    """A package named by the user: `nano` or `binary(nano)`."""
    try:
        return Provider.parse(text)
    except ValueError as err:
        raise ClientError(f"invalid package or provider {text!r}: {err}") from None


def plan_sync(registry: Registry, model: SystemModel | None) -> SyncPlan:
    """The packages of the state `sync` makes, and the differences by name.

    With a system model, the state is exactly the model (entries pinned by id are taken as
    they are); without one, every explicit package moves to the best candidate of the
    highest-priority repository that has it, downgrades included, and orphans go.
    """
    installed = registry.installed()
    if model is not None:
        roots = [_model_package(registry, entry.provider, entry.id) for entry in model.packages]
        locked = [_model_package(registry, None, package_id) for package_id in model.locked]
        packages = resolve.resolve(
            registry, [p.id for p in [*roots, *locked]], resolve.Lookup.AVAILABLE_ONLY
        )
    else:
        installed_ids = {p.id for p in installed}
        roots = []
        for package in installed:
            if not package.explicit:
                continue
            candidate = registry.first(Provider(RelationKind.NAME, package.name), installed=False)
            chosen = (
                candidate
                if candidate is not None and candidate.id not in installed_ids
                else package
            )
            roots.append(chosen)
        packages = resolve.resolve(registry, [p.id for p in roots], resolve.Lookup.PREFER_AVAILABLE)
    resolve.check_conflicts(packages)
    before = {p.name: p for p in installed}
    after = {p.name: p for p in packages}
    return SyncPlan(
        packages=tuple(packages),
        explicit=frozenset(p.id for p in roots),
        added=tuple(p for name, p in sorted(after.items()) if name not in before),
        updated=tuple(
            (before[name], p)
            for name, p in sorted(after.items())
            if name in before and before[name].id != p.id
        ),
        removed=tuple(p for name, p in sorted(before.items()) if name not in after),
    )


def plan_removal(registry: Registry, arguments: Sequence[str]) -> RemovalPlan:
    """Remove what `arguments` name, every installed package that depends on them, and what
    only those needed; the explicit packages left, and their dependencies, stay."""
    installed = registry.installed()
    if not installed:
        raise ClientError("no packages are installed")
    targets: set[str] = set()
    missing = []
    for argument in arguments:
        provider = parse_provider(argument)
        matches = [p for p in installed if p.provides(provider)]
        if not matches:
            missing.append(argument)
        targets.update(p.id for p in matches)
    if missing:
        names = {p.name for p in installed}
        hints = [_with_suggestion(argument, names) for argument in missing]
        raise ClientError(f"not installed: {', '.join(hints)}")
    doomed = _reverse_closure(installed, targets)
    survivors = [p for p in installed if p.id not in doomed]
    keep = resolve.resolve(
        registry, [p.id for p in survivors if p.explicit], resolve.Lookup.INSTALLED_ONLY
    )
    kept_ids = {p.id for p in keep}
    removed = sorted((p for p in installed if p.id not in kept_ids), key=lambda p: p.name)
    return RemovalPlan(tuple(removed), tuple(keep))


def _model_package(
    registry: Registry, provider: Provider | None, package_id: str | None
) -> Package:
    if package_id is not None:
        package = registry.by_id(package_id, installed=False)
        if package is None:
            raise ClientError(f"package {package_id} of the system model is in no repository")
        return package
    assert provider is not None
    candidate = registry.first(provider, installed=False)
    if candidate is None:
        raise ClientError(
            f"package defined in the system model does not exist in any repository: {provider}"
        )
    return candidate


def _reverse_closure(installed: Sequence[Package], targets: set[str]) -> set[str]:
    """The targets and every installed package that (transitively) depends on one of them."""
    doomed = set(targets)
    changed = True
    while changed:
        changed = False
        offered = {prov for p in installed if p.id in doomed for prov in p.meta.all_provides()}
        for package in installed:
            if package.id in doomed:
                continue
            if any(Provider(d.kind, d.name) in offered for d in package.meta.depends):
                doomed.add(package.id)
                changed = True
    return doomed

"""Which packages a recipe produces and the collection rules sending files to them (§2.6), pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from boulder.errors import UnknownMacroError
from boulder.macros.load import MacroSet
from boulder.macros.model import PackageTemplate
from boulder.recipe.load import LoadedRecipe, Loc
from boulder.recipe.model import Package, Recipe
from boulder.recipe.targets import build_targets
from boulder.script import ExpansionError, Scope


@dataclass(frozen=True, slots=True)
class ResolvedPackage:
    name: str
    summary: str | None
    description: str | None
    rundeps: tuple[str, ...]
    rundeps_exclude: tuple[str, ...]
    provides_exclude: tuple[str, ...]
    conflicts: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CollectionRule:
    """A file matching `glob` goes to `package`; the last-added matching rule wins."""

    glob: str
    package: str


@dataclass(frozen=True, slots=True)
class PackagePlan:
    packages: tuple[ResolvedPackage, ...]
    rules: tuple[CollectionRule, ...]

    def get(self, name: str) -> ResolvedPackage | None:
        return next((p for p in self.packages if p.name == name), None)


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    summary: str | None
    description: str | None
    rundeps: tuple[str, ...] = ()
    rundeps_exclude: tuple[str, ...] = ()
    provides_exclude: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    where: Loc = ()


def _from_template(template: PackageTemplate) -> _Entry:
    return _Entry(
        template.name, template.summary, template.description, template.rundeps,
        paths=template.paths,
    )  # fmt: skip


def _from_recipe(name: str, package: Package | Recipe, where: Loc) -> _Entry:
    """A recipe `packages` entry, or the main package from the recipe's top-level keys."""
    return _Entry(
        name,
        package.summary,
        package.description,
        package.rundeps,
        package.rundeps_exclude,
        package.provides_exclude,
        package.conflicts,
        tuple(rule.glob for rule in package.paths),
        where,
    )


def plan_packages(loaded: LoadedRecipe, macros: MacroSet, host: str = "x86_64") -> PackagePlan:
    """Base templates, each target's arch templates, the main package, then the recipe's own."""
    recipe = loaded.recipe
    entries = [_from_template(t) for t in macros.arch_file("base").packages]
    for target in build_targets(recipe, host):
        entries.extend(_from_template(t) for t in macros.arch_file(target).packages)
    entries.append(_from_recipe(recipe.name, recipe, ()))
    entries.extend(
        _from_recipe(name, package, ("packages", index, name))
        for index, (name, package) in enumerate(recipe.packages)
    )
    # Package fields only know the recipe's name, version and release.
    scope = Scope(
        {}, {"name": recipe.name, "version": recipe.version, "release": str(recipe.release)}, {}
    )
    packages: dict[str, ResolvedPackage] = {}
    rules: list[CollectionRule] = []
    for entry in entries:
        try:
            resolved = _resolve(entry, scope, recipe.summary, recipe.description)
        except ExpansionError as err:
            line = loaded.source.line(entry.where) if entry.where else None
            raise UnknownMacroError(
                err.message, file=loaded.path, line=line, key=f"package {entry.name}"
            ) from err
        previous = packages.get(resolved.name)
        if previous is not None:
            resolved = _merge(previous, resolved)
        packages[resolved.name] = resolved
        rules.extend(CollectionRule(glob, resolved.name) for glob in _expand(scope, entry.paths))
    return PackagePlan(tuple(packages.values()), tuple(rules))


def _expand(scope: Scope, texts: Iterable[str]) -> tuple[str, ...]:
    return tuple(scope.expand_text(t) for t in texts)


def _resolve(
    entry: _Entry, scope: Scope, top_summary: str | None, top_description: str | None
) -> ResolvedPackage:
    # Summary and description fall back to the recipe's; exclusions and conflicts stay verbatim.
    summary = entry.summary if entry.summary is not None else top_summary
    description = entry.description if entry.description is not None else top_description
    return ResolvedPackage(
        name=scope.expand_text(entry.name),
        summary=None if summary is None else scope.expand_text(summary),
        description=None if description is None else scope.expand_text(description).strip(),
        rundeps=_expand(scope, entry.rundeps),
        rundeps_exclude=entry.rundeps_exclude,
        provides_exclude=entry.provides_exclude,
        conflicts=entry.conflicts,
        paths=_expand(scope, entry.paths),
    )


def _merge(old: ResolvedPackage, new: ResolvedPackage) -> ResolvedPackage:
    # Dependencies accumulate; the descriptive fields come from the newer entry alone.
    return ResolvedPackage(
        name=new.name,
        summary=new.summary,
        description=new.description,
        rundeps=tuple(sorted(set(old.rundeps) | set(new.rundeps))),
        rundeps_exclude=tuple(sorted(set(old.rundeps_exclude) | set(new.rundeps_exclude))),
        provides_exclude=new.provides_exclude,
        conflicts=new.conflicts,
        paths=tuple(sorted(old.paths + new.paths)),
    )

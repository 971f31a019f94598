"""A recipe turned into everything a build needs to know up front (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from boulder.macros.load import MacroSet
from boulder.packages import PackagePlan, plan_packages
from boulder.phases import BuildContext, PhaseScript, all_scripts
from boulder.recipe.load import LoadedRecipe


@dataclass(frozen=True, slots=True)
class CompiledRecipe:
    loaded: LoadedRecipe
    scripts: tuple[PhaseScript, ...]
    packages: PackagePlan

    @property
    def dependencies(self) -> frozenset[str]:
        """Packages the actions used by the phase bodies need in the build root."""
        return frozenset().union(*(s.dependencies for s in self.scripts))


def compile_recipe(loaded: LoadedRecipe, macros: MacroSet, context: BuildContext) -> CompiledRecipe:
    """Every script of every target, stage and phase, and the package plan; fails on the first
    unknown macro, tuning group or package-name macro."""
    scripts = tuple(all_scripts(loaded, macros, context))
    return CompiledRecipe(loaded, scripts, plan_packages(loaded, macros, context.host))

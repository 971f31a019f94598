"""boulder: turn AerynOS `stone.yaml` recipes into exact build scripts.

The core is pure: load a recipe (`load_recipe`), load macro data (`load_macros`), then
`compile_recipe` gives every phase script of every target and the package plan, or raises a
`BoulderError` naming the file, line and key or macro at fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stone._lazy import lazy_attributes

if TYPE_CHECKING:
    from boulder.compiled import CompiledRecipe, compile_recipe
    from boulder.errors import (
        BoulderError,
        MacroError,
        RecipeError,
        ScriptError,
        TuningError,
        UnknownMacroError,
    )
    from boulder.macros.load import MacroSet, bundled_data_dir, load_macros
    from boulder.packages import CollectionRule, PackagePlan, ResolvedPackage, plan_packages
    from boulder.phase import Phase
    from boulder.phases import BuildContext, PhaseScript, all_scripts, phase_script
    from boulder.recipe.bump import bump_release
    from boulder.recipe.load import LoadedRecipe, load_recipe
    from boulder.recipe.model import Recipe
    from boulder.recipe.targets import Stage, build_targets

# Loaded on first use: the command line (`boulder --help`) must not pay for the recipe model.
__getattr__ = lazy_attributes(
    __name__,
    {
        "BoulderError": "boulder.errors",
        "BuildContext": "boulder.phases",
        "CollectionRule": "boulder.packages",
        "CompiledRecipe": "boulder.compiled",
        "LoadedRecipe": "boulder.recipe.load",
        "MacroError": "boulder.errors",
        "MacroSet": "boulder.macros.load",
        "PackagePlan": "boulder.packages",
        "Phase": "boulder.phase",
        "PhaseScript": "boulder.phases",
        "Recipe": "boulder.recipe.model",
        "RecipeError": "boulder.errors",
        "ResolvedPackage": "boulder.packages",
        "ScriptError": "boulder.errors",
        "Stage": "boulder.recipe.targets",
        "TuningError": "boulder.errors",
        "UnknownMacroError": "boulder.errors",
        "all_scripts": "boulder.phases",
        "build_targets": "boulder.recipe.targets",
        "bump_release": "boulder.recipe.bump",
        "bundled_data_dir": "boulder.macros.load",
        "compile_recipe": "boulder.compiled",
        "load_macros": "boulder.macros.load",
        "load_recipe": "boulder.recipe.load",
        "phase_script": "boulder.phases",
        "plan_packages": "boulder.packages",
    },
)


__all__ = [
    "BoulderError",
    "BuildContext",
    "CollectionRule",
    "CompiledRecipe",
    "LoadedRecipe",
    "MacroError",
    "MacroSet",
    "PackagePlan",
    "Phase",
    "PhaseScript",
    "Recipe",
    "RecipeError",
    "ResolvedPackage",
    "ScriptError",
    "Stage",
    "TuningError",
    "UnknownMacroError",
    "all_scripts",
    "build_targets",
    "bump_release",
    "bundled_data_dir",
    "compile_recipe",
    "load_macros",
    "load_recipe",
    "phase_script",
    "plan_packages",
]

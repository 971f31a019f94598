"""boulder: turn AerynOS `stone.yaml` recipes into exact build scripts.

The core is pure: load a recipe (`load_recipe`), load macro data (`load_macros`), then
`compile_recipe` gives every phase script of every target and the package plan, or raises a
`BoulderError` naming the file, line and key or macro at fault.
"""

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
from boulder.phases import BuildContext, Phase, PhaseScript, all_scripts, phase_script
from boulder.recipe.bump import bump_release
from boulder.recipe.load import LoadedRecipe, load_recipe
from boulder.recipe.model import Recipe
from boulder.recipe.targets import Stage, build_targets

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

"""The recipe: schema, loading with source lines, control.kdl, targets and release bumps."""

from boulder.recipe.load import LoadedRecipe, SourceMap, load_recipe
from boulder.recipe.model import (
    GitUpstream,
    Package,
    PathRule,
    PlainUpstream,
    Profile,
    Recipe,
    TuningItem,
    Upstream,
)

__all__ = [
    "GitUpstream",
    "LoadedRecipe",
    "Package",
    "PathRule",
    "PlainUpstream",
    "Profile",
    "Recipe",
    "SourceMap",
    "TuningItem",
    "Upstream",
    "load_recipe",
]

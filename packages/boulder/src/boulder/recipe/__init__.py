"""The recipe: schema, loading with source lines, control.kdl, targets and release bumps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stone._lazy import lazy_attributes

if TYPE_CHECKING:
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

__getattr__ = lazy_attributes(
    __name__,
    {
        "GitUpstream": "boulder.recipe.model",
        "LoadedRecipe": "boulder.recipe.load",
        "Package": "boulder.recipe.model",
        "PathRule": "boulder.recipe.model",
        "PlainUpstream": "boulder.recipe.model",
        "Profile": "boulder.recipe.model",
        "Recipe": "boulder.recipe.model",
        "SourceMap": "boulder.recipe.load",
        "TuningItem": "boulder.recipe.model",
        "Upstream": "boulder.recipe.model",
        "load_recipe": "boulder.recipe.load",
    },
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

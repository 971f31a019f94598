"""`boulder build`: run a recipe's scripts in a container, then collect, analyse and package
what the install phase produced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stone._lazy import lazy_attributes

if TYPE_CHECKING:
    from boulder.build.pipeline import (
        HOST_PROFILE,
        BuildOptions,
        BuildResult,
        build,
        default_cache_dir,
    )

__getattr__ = lazy_attributes(
    __name__,
    {
        "BuildOptions": "boulder.build.pipeline",
        "BuildResult": "boulder.build.pipeline",
        "HOST_PROFILE": "boulder.build.pipeline",
        "build": "boulder.build.pipeline",
        "default_cache_dir": "boulder.build.pipeline",
    },
)

__all__ = ["HOST_PROFILE", "BuildOptions", "BuildResult", "build", "default_cache_dir"]

"""`boulder build`: run a recipe's scripts in a container, then collect, analyse and package
what the install phase produced."""

from boulder.build.pipeline import (
    HOST_PROFILE,
    BuildOptions,
    BuildResult,
    build,
    default_cache_dir,
)

__all__ = ["HOST_PROFILE", "BuildOptions", "BuildResult", "build", "default_cache_dir"]

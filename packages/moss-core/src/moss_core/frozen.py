"""A moss or boulder made into one executable (`make dist`) has no interpreter to start the
container's helper with (`python -m moss_core.container._init`): the executable is its own
helper, told so by its first argument. It stands outside `moss_core.container` so that every
entry point can ask without loading the container package."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

HELPER_ARGUMENT = "--moss-container-helper"


def helper_argv(request: str) -> list[str]:
    """The command line that starts the container's helper process with `request`."""
    if getattr(sys, "frozen", False):
        # staticx runs the bundled program through a loader it extracts; the executable the
        # user has is where it says.
        executable = os.environ.get("STATICX_PROG_PATH", sys.executable)
        return [executable, HELPER_ARGUMENT, request]
    return [sys.executable, "-P", "-m", "moss_core.container._init", request]


def serve_as_helper(argv: Sequence[str] = sys.argv) -> None:
    """In an executable's entry point: be the container's helper, and exit, when asked to."""
    if len(argv) == 3 and argv[1] == HELPER_ARGUMENT:
        from moss_core.container._init import main

        sys.exit(main(list(argv[1:])))

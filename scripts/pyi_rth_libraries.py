"""PyInstaller runtime hook for `make dist`: C libraries bundled beside the executable's
modules (libseccomp, for the container's system-call filter) are found there first; ctypes
would otherwise look for them with ldconfig, which an empty root does not have."""

import ctypes.util
import glob
import os
import sys

_system_find_library = ctypes.util.find_library


def _find_library(name: str) -> str | None:
    bundled = sorted(glob.glob(os.path.join(sys._MEIPASS, f"lib{name}.so*")))  # type: ignore[attr-defined]
    return bundled[0] if bundled else _system_find_library(name)


ctypes.util.find_library = _find_library

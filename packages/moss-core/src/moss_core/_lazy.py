"""Modules loaded on first use, so a read-only command does not pay for what it never runs."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


class _Absent(ModuleType):
    """A module that is not installed: fine to hold, an ImportError on first use."""

    def __getattr__(self, attribute: str) -> object:
        raise ImportError(f"no module named {self.__name__!r} (needed for {attribute})")


def lazy_import(name: str) -> ModuleType:
    """`name`, executed only when one of its attributes is first read.

    A module that is not installed fails there too, not here: what only a download over HTTP
    needs must not stop a program that never makes one (boulder building from the host).
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return _Absent(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module

"""Modules loaded on first use, so a read-only command does not pay for what it never runs."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


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


def lazy_attributes(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's `__getattr__` (PEP 562) that imports each public name from the module
    `exports` names for it, on first use: importing a submodule of the package, as every
    command line does, then no longer loads everything the package re-exports."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

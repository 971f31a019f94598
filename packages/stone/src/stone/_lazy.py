"""Package exports loaded on first use (PEP 562), for stone and the packages standing on it:
a command line that imports one submodule must not pay for everything its package offers."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


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

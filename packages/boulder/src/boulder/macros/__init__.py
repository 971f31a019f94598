"""Macro data: files of actions, definitions, flags, tuning groups and package templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stone._lazy import lazy_attributes

if TYPE_CHECKING:
    from boulder.macros.load import MacroSet, bundled_data_dir, load_macros
    from boulder.macros.model import Flag, MacroFile, PackageTemplate, TuningGroup, TuningOption
    from boulder.macros.tuning import Tuning, TuningRequest

__getattr__ = lazy_attributes(
    __name__,
    {
        "Flag": "boulder.macros.model",
        "MacroFile": "boulder.macros.model",
        "MacroSet": "boulder.macros.load",
        "PackageTemplate": "boulder.macros.model",
        "Tuning": "boulder.macros.tuning",
        "TuningGroup": "boulder.macros.model",
        "TuningOption": "boulder.macros.model",
        "TuningRequest": "boulder.macros.tuning",
        "bundled_data_dir": "boulder.macros.load",
        "load_macros": "boulder.macros.load",
    },
)

__all__ = [
    "Flag",
    "MacroFile",
    "MacroSet",
    "PackageTemplate",
    "Tuning",
    "TuningGroup",
    "TuningOption",
    "TuningRequest",
    "bundled_data_dir",
    "load_macros",
]

"""Macro data: files of actions, definitions, flags, tuning groups and package templates."""

from boulder.macros.load import MacroSet, bundled_data_dir, load_macros
from boulder.macros.model import Flag, MacroFile, PackageTemplate, TuningGroup, TuningOption
from boulder.macros.tuning import Tuning, TuningRequest

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

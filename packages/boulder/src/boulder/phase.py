"""The phases a recipe's build runs, by name (a module of its own: the command line offers
them without loading the recipe model)."""

from __future__ import annotations

from enum import Enum


class Phase(Enum):
    PREPARE = "prepare"
    SETUP = "setup"
    BUILD = "build"
    INSTALL = "install"
    CHECK = "check"
    WORKLOAD = "workload"

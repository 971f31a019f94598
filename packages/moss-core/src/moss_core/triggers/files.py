"""Where a tree keeps its trigger files (no parsing here: finding them needs no pydantic)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

TRIGGER_DIR = Path("usr/share/moss/triggers")
SUFFIX = ".yaml"


class Scope(StrEnum):
    """When triggers run: `tx` in the staged tree before it goes live, `sys` on the live system."""

    TRANSACTION = "tx"
    SYSTEM = "sys"


def trigger_directory(root: Path) -> Path:
    """Where packages install trigger files inside the tree at `root`."""
    return root / TRIGGER_DIR


def trigger_files(root: Path, scope: Scope) -> list[Path]:
    """The files `load_triggers` reads, in the order it reads them."""
    base = trigger_directory(root)
    candidates: list[Path] = []
    single = base / f"{scope}{SUFFIX}"
    if single.is_file():
        candidates.append(single)
    drop_in = base / f"{scope}.d"
    if drop_in.is_dir():
        candidates.extend(sorted(drop_in.iterdir()))
    return candidates

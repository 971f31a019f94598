"""Raising a recipe's release in place, touching nothing but the number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from boulder.errors import RecipeError
from boulder.recipe.load import read_document, recipe_file

_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Bump:
    path: Path
    name: str
    old: int
    new: int


def bump_text(text: str, line: int, column: int, new: int) -> str:
    """Replace the integer starting at 0-based (line, column) with `new`."""
    lines = text.splitlines(keepends=True)
    target = lines[line]
    match = _NUMBER.match(target, column)
    if match is None:
        raise ValueError("release value is not a plain integer")
    lines[line] = f"{target[: match.start()]}{new}{target[match.end() :]}"
    return "".join(lines)


def bump_release(path: Path, release: int | None = None) -> Bump:
    """Set `release` to `release` (default: one more), keeping formatting and comments.

    ruamel tells where the value is; the file is edited there as text, so quoting, alignment,
    indentation and comments elsewhere stay byte-for-byte the same.
    """
    file = recipe_file(path)
    document = read_document(file)
    if not isinstance(document, CommentedMap) or "release" not in document:
        raise RecipeError("no release to bump", file=file, key="release")
    old = document["release"]
    line, column = document.lc.value("release")
    if isinstance(old, bool) or not isinstance(old, int):
        raise RecipeError(f"release is not an integer: {old!r}", file=file, line=line + 1)
    new = old + 1 if release is None else release
    if new <= 0:
        raise RecipeError(f"release must be > 0 (found 'release: {new}')", file=file, key="release")
    text = file.read_text(encoding="utf-8")
    try:
        updated = bump_text(text, line, column, new)
    except ValueError as err:
        raise RecipeError(str(err), file=file, line=line + 1, key="release") from err
    file.write_text(updated, encoding="utf-8")
    return Bump(file, str(document.get("name", "")), old, new)

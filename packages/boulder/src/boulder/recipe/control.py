"""`control.kdl` beside a recipe: prepend/append/override edits applied before validation.

Read with moss's KDL reader (`moss_core.kdl`, all of KDL v2: upstream's own examples write
scripts as multi-line strings). A script key (`setup`, `build`, …) takes its node's first
value, which must be a string; a list key (`builddeps`, …) takes the names of its child nodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from boulder.errors import RecipeError
from moss_core import kdl

STRING_KEYS = ("setup", "build", "install", "check", "workload", "environment")
LIST_KEYS = ("builddeps", "checkdeps", "rundeps", "rundeps-exclude", "conflicts")
MODES = ("prepend", "append", "override")


def _merge_text(mode: str, old: Any, new: str) -> str:
    if mode == "override" or not isinstance(old, str):
        return new
    return f"{new}\n{old}" if mode == "prepend" else f"{old}\n{new}"


def _merge_list(mode: str, old: Any, new: list[str]) -> list[str]:
    previous = [old] if isinstance(old, str) else list(old or [])
    if mode == "override":
        return new
    return [*new, *previous] if mode == "prepend" else [*previous, *new]


def _apply_block(target: CommentedMap, mode: str, nodes: list[kdl.Node], path: Path) -> None:
    for node in nodes:
        if node.name in STRING_KEYS:
            if not node.args:
                continue
            text = node.args[0]
            if not isinstance(text, str):
                raise RecipeError(
                    f"{mode} {node.name}: expected a string, got {kdl.format_value(text)}",
                    file=path,
                    line=node.line,
                )
            target[node.name] = _merge_text(mode, target.get(node.name), text)
        elif node.name in LIST_KEYS:
            target[node.name] = _merge_list(
                mode, target.get(node.name), [c.name for c in node.children]
            )
        elif node.name in ("profiles", "packages"):
            _apply_named(target, node.name, mode, node.children, path)


def _apply_named(
    target: CommentedMap, key: str, mode: str, nodes: list[kdl.Node], path: Path
) -> None:
    entries = target.get(key) or []
    by_name = {
        next(iter(item)): item for item in entries if isinstance(item, dict) and len(item) == 1
    }
    what = "profile" if key == "profiles" else "sub-package"
    for node in nodes:
        if node.name not in by_name:
            raise RecipeError(
                f"{what} {node.name} in {mode} block does not exist in recipe", file=path
            )
        item = by_name[node.name]
        body = item[node.name]
        if not isinstance(body, CommentedMap):
            body = CommentedMap(body or {})
            item[node.name] = body
        _apply_block(body, mode, node.children, path)


def apply_control(document: CommentedMap, path: Path) -> None:
    """Apply `prepend`, then `append`, then `override` blocks of `path` to the document."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(f"cannot read control file: {err}", file=path) from err
    try:
        nodes = kdl.parse(text, file=str(path))
    except kdl.KdlError as err:
        raise RecipeError(
            f"cannot read control file: {err.problem} (column {err.column})",
            file=path,
            line=err.line,
        ) from None
    for mode in MODES:
        for node in nodes:
            if node.name == mode:
                _apply_block(document, mode, node.children, path)

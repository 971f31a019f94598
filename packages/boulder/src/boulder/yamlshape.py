"""Shapes shared by recipes and macro files: ordered maps, list-or-scalar, lenient booleans."""

from __future__ import annotations

from typing import Any


class ShapeError(Exception):
    """A value does not have the expected YAML shape; `path` locates it inside the document.

    Not a ValueError on purpose: raised inside a pydantic validator it passes through unwrapped,
    keeping the precise path of the item at fault.
    """

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def ordered_items(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str, Any]]:
    """A YAML list of single-key maps, order kept (a plain map is accepted too)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if not isinstance(value, list):
        raise ShapeError("expected a list of single-key maps", path)
    items: list[tuple[str, Any]] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            items.append((item, None))
        elif isinstance(item, dict) and len(item) == 1:
            ((key, inner),) = item.items()
            items.append((str(key), inner))
        else:
            raise ShapeError("expected a single-key map", (*path, index))
    return items


def string_list(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str, ...]:
    """One string or a list of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ShapeError("expected a string or a list of strings", path)


def lenient_bool(value: Any) -> bool:
    """A YAML boolean or the strings "true"/"false" (YAML 1.2: `yes` and `on` are strings)."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError("invalid boolean: expected true or false")

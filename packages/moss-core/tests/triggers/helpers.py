"""Builders shared by the trigger tests (imported by path, so the name must stay unique)."""

from __future__ import annotations

from typing import Any

from moss_core.triggers import FileKind, Trigger


def make_trigger(
    name: str,
    paths: dict[str, Any] | None = None,
    handlers: dict[str, Any] | None = None,
    **extra: Any,
) -> Trigger:
    """A trigger whose handler `h` runs `/bin/<name>` unless told otherwise."""
    return Trigger.model_validate(
        {
            "name": name,
            "description": f"test trigger {name}",
            "handlers": handlers or {"h": {"run": f"/bin/{name}", "args": []}},
            "paths": paths if paths is not None else {"/usr/**": {"handlers": ["h"]}},
            **extra,
        }
    )


def files(*paths: str) -> dict[str, FileKind]:
    """A tree holding `paths` as regular files, with every parent as a directory."""
    tree = {"/": FileKind.DIRECTORY}
    for path in paths:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            tree["/" + "/".join(parts[:depth])] = FileKind.DIRECTORY
        tree[path] = FileKind.REGULAR
    return tree

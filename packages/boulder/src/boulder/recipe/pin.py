"""Pinning a git upstream's ref to the commit it resolved to, in place (as upstream boulder
does after fetching), so the next build gets the same sources."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from boulder.recipe.load import read_document

_TOKEN = re.compile(r"\"[^\"]*\"|'[^']*'|[^\s#]+")


def pin_text(text: str, line: int, column: int, ref: str, commit: str) -> str | None:
    """Replace the ref written at 0-based (line, column) by `<commit> # <ref>`; None when the
    text there is not that ref."""
    lines = text.splitlines(keepends=True)
    found = _TOKEN.match(lines[line], column)
    if found is None or found.group(0).strip("\"'") != ref:
        return None
    target = lines[line]
    lines[line] = f"{target[: found.start()]}{commit} # {ref}{target[found.end() :]}"
    return "".join(lines)


def pin_git_ref(file: Path, index: int, ref: str, commit: str) -> bool:
    """Pin the `index`th upstream of the recipe file, a git one written with `ref`. False when
    the file does not hold that ref there (a `control.kdl` changed it, say)."""
    document = read_document(file)
    upstreams = document.get("upstreams") if isinstance(document, CommentedMap) else None
    if not isinstance(upstreams, CommentedSeq) or index >= len(upstreams):
        return False
    item = upstreams[index]
    if not isinstance(item, CommentedMap) or len(item) != 1:
        return False
    ((key, value),) = item.items()
    if not str(key).startswith("git|"):
        return False
    if isinstance(value, CommentedMap) and "ref" in value:
        line, column = value.lc.value("ref")
    elif isinstance(value, str | int):
        line, column = item.lc.value(key)
    else:
        return False
    updated = pin_text(file.read_text(encoding="utf-8"), line, column, ref, commit)
    if updated is None:
        return False
    file.write_text(updated, encoding="utf-8")
    return True

"""`boulder recipe update`: new upstreams, their hashes, the version and the release, written
into the recipe in place. ruamel says where each value sits; the file is edited there as text,
so every other byte (layout, quoting, comments) stays as it was, as `recipe bump` does."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from boulder.draft.metadata import GIT_PREFIX, file_name, from_archive_name, from_uri
from boulder.errors import RecipeError
from boulder.recipe.bump import bump_text

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./+~|%()=@-][A-Za-z0-9_./:+~|%()=@,?&#-]*")
# Where a plain scalar ends: a comment, or the `:` after a key.
_PLAIN_END = re.compile(r"\s#|\s*:(?:\s|$)")


@dataclass(frozen=True)
class Edit:
    """Replace the scalar starting at 0-based (line, column), written `old` (None: whatever is
    written there), by `new`."""

    line: int
    column: int
    old: str | None
    new: str


@dataclass(frozen=True)
class Change:
    """What an update did: the new recipe text and a one-line account of it."""

    text: str
    name: str
    old_version: str
    new_version: str
    old_release: int
    new_release: int


# `fetch_hash(url)` is the sha256 of the file at url; `check_ref(url, ref)` fails unless the
# repository at url has that ref.
FetchHash = Callable[[str], str]
CheckRef = Callable[[str, str], None]


def parse_new_source(value: str) -> tuple[str, bool]:
    """`-u` value: a URL, or `git|REF` for a git upstream's new ref."""
    if value.startswith(GIT_PREFIX):
        return value[len(GIT_PREFIX) :], True
    return value, False


def plan_update(
    document: Any,
    file: Path,
    version: str | None,
    sources: list[str],
    fetch_hash: FetchHash,
    check_ref: CheckRef,
) -> tuple[list[Edit], str, str]:
    """The edits, the old version and the new one. Without `sources`, upstreams whose URL or
    ref holds the old version get the new one in its place."""
    if not isinstance(document, CommentedMap) or not {"name", "version", "release"} <= set(
        document
    ):
        raise RecipeError("not a recipe: expected a map with name, version and release", file=file)
    old_version = str(document["version"])
    upstreams = document.get("upstreams") or CommentedSeq()
    if not isinstance(upstreams, CommentedSeq):
        raise RecipeError("expected a list of upstreams", file=file, key="upstreams")
    if len(sources) > len(upstreams):
        raise RecipeError(
            f"{len(sources)} upstreams given, the recipe has {len(upstreams)}",
            file=file, key="upstreams",
        )  # fmt: skip
    if version is None:
        version = _version_from(sources, file)
    if not sources:
        sources = _follow_version(upstreams, old_version, version)
    edits = [_version_edit(document, version)]
    for index, source in enumerate(sources):
        if source:
            edits += _upstream_edits(upstreams, index, source, file, fetch_hash, check_ref)
    return edits, old_version, version


def _version_from(sources: list[str], file: Path) -> str:
    if not sources:
        raise RecipeError("nothing to update: give --ver, -u or both", file=file)
    url, git = parse_new_source(sources[0])
    found = None if git else (from_uri(url).version or from_archive_name(file_name(url)).version)
    if found is None:
        raise RecipeError(f"cannot tell the version from {sources[0]!r}: give --ver", file=file)
    return found


def _follow_version(upstreams: CommentedSeq, old: str, new: str) -> list[str]:
    """For a version-only update: each upstream with the old version in its URL or ref, with
    the new one in its place; "" for those left as they are."""
    sources = []
    for item in upstreams:
        key, value = _entry(item)
        if key.startswith(GIT_PREFIX):
            ref = _ref(value)
            sources.append(GIT_PREFIX + ref.replace(old, new) if ref and old in ref else "")
        else:
            sources.append(key.replace(old, new) if old in key else "")
    return sources


def _entry(item: Any) -> tuple[str, Any]:
    if not isinstance(item, CommentedMap) or len(item) != 1:
        raise ValueError("an upstream is a map of one URL")
    key = next(iter(item))
    return str(key), item[key]


def _ref(value: Any) -> str | None:
    if isinstance(value, CommentedMap):
        value = value.get("ref")
    return value if isinstance(value, str) else None


def _version_edit(document: CommentedMap, new: str) -> Edit:
    line, column = document.lc.value("version")
    # Not compared: an unquoted `1.10` reads back as 1.1.
    return Edit(line, column, None, new)


def _upstream_edits(
    upstreams: CommentedSeq,
    index: int,
    source: str,
    file: Path,
    fetch_hash: FetchHash,
    check_ref: CheckRef,
) -> list[Edit]:
    item = upstreams[index]
    line = upstreams.lc.item(index)[0] + 1
    try:
        key, value = _entry(item)
    except ValueError as err:
        raise RecipeError(str(err), file=file, line=line, key=f"upstreams[{index}]") from err
    new, git = parse_new_source(source)
    was_git = key.startswith(GIT_PREFIX)
    if git != was_git:
        kinds = ("a git", "a plain") if was_git else ("a plain", "a git")
        raise RecipeError(
            f"upstream {index + 1} is {kinds[0]} upstream; {source!r} is {kinds[1]} one",
            file=file, line=line, key="upstreams",
        )  # fmt: skip
    if git:
        check_ref(key[len(GIT_PREFIX) :], new)
        return [_value_edit(item, key, value, "ref", new)]
    digest = fetch_hash(new)
    key_line, key_column = item.lc.key(key)
    return [Edit(key_line, key_column, key, new), _value_edit(item, key, value, "hash", digest)]


def _value_edit(item: CommentedMap, key: str, value: Any, field: str, new: str) -> Edit:
    """The edit of an upstream's hash or ref, written `url: value` or `url: {field: value}`."""
    # Not compared with what is written: a hash of digits reads back as a number.
    if isinstance(value, CommentedMap):
        line, column = value.lc.value(field)
        return Edit(line, column, None, new)
    line, column = item.lc.value(key)
    return Edit(line, column, None, new)


def apply_edits(text: str, edits: list[Edit], file: Path) -> str:
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        target = lines[edit.line]
        start, end, quote = _span(target, edit, file)
        lines[edit.line] = target[:start] + _written(edit, quote) + target[end:]
    return "".join(lines)


def _span(line: str, edit: Edit, file: Path) -> tuple[int, int, str]:
    """Where the scalar's text is in the line, and its quote character ("" when plain)."""
    column = edit.column
    quote = line[column] if line[column : column + 1] in ("'", '"') else ""
    if quote:
        end = line.find(quote, column + 1)
        if end >= 0 and edit.old in (None, line[column + 1 : end]):
            return column, end + 1, quote
    else:
        token = _PLAIN_END.split(line[column:].rstrip("\r\n"), maxsplit=1)[0].rstrip()
        if token and edit.old in (None, token):
            return column, column + len(token), ""
    raise RecipeError(
        f"cannot edit {edit.old or 'the value'!r} in place (a multi-line or escaped value)",
        file=file, line=edit.line + 1,
    )  # fmt: skip


def _written(edit: Edit, quote: str) -> str:
    if quote == '"':
        return '"' + edit.new.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if quote == "'":
        return "'" + edit.new.replace("'", "''") + "'"
    return edit.new if _plain_ok(edit.new) else json.dumps(edit.new)


def _plain_ok(value: str) -> bool:
    """Whether `value`, written unquoted, reads back as this same string: asked of the YAML
    reader recipes are read with, which knows every number (`1.10`, `0o7`), boolean and null
    spelling, comment and key that a plain scalar can turn into."""
    if _PLAIN_SAFE.fullmatch(value) is None:
        return False
    try:
        read = YAML(typ="rt").load(f"value: {value}\n")
    except YAMLError:
        return False
    return isinstance(read, dict) and type(read.get("value")) is str and read["value"] == value


def update_text(
    text: str,
    document: Any,
    file: Path,
    *,
    version: str | None,
    sources: list[str],
    bump: bool,
    fetch_hash: FetchHash,
    check_ref: CheckRef,
) -> Change:
    edits, old_version, new_version = plan_update(
        document, file, version, sources, fetch_hash, check_ref
    )
    updated = apply_edits(text, edits, file)
    old_release = document["release"]
    if isinstance(old_release, bool) or not isinstance(old_release, int):
        raise RecipeError(f"release is not an integer: {old_release!r}", file=file, key="release")
    new_release = old_release + 1 if bump else old_release
    if bump:
        line, column = document.lc.value("release")
        updated = bump_text(updated, line, column, new_release)
    return Change(
        updated, str(document["name"]), old_version, new_version, old_release, new_release
    )

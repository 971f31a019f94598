"""What a state's transaction triggers ran on and what they wrote (pure: a codec and checks).

The record lives in the state's tree, beside `.stateID` (`RECORD_FILE`), so that it goes
wherever the tree goes (live, archived, recycled) and dies with it. A tree that holds
transaction trigger files is recycled only with a record that matches it
(`moss_core.client.recycle`); the triggers of the new state then re-run only where their
inputs changed (`moss_core.triggers.rerun`).

Inputs are the tree paths a trigger's patterns matched, each with a fingerprint of the layout
entry there (`fingerprint`). Outputs are the entries a trigger's handlers created, with what
the cheap check compares (kind, size, modification time) and a digest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moss_core.vfs import TOP, Node
from stone import FileKind

Listing = Mapping[str, Mapping[str, int]]
"""Every directory of a tree (relative to `/usr`, "" for itself), its entries' inode numbers."""

RECORD_FILE = ".moss-triggers.json"
"""In `/usr`, written by moss after the transaction triggers ran."""

_VERSION = 1
OUTPUT_KINDS = ("file", "directory", "symlink")


@dataclass(frozen=True)
class Output:
    """An entry a trigger created: `path` absolute (`/usr/...`); `digest` is the SHA-256 of a
    file, a symlink's target, empty for a directory."""

    path: str
    kind: str
    digest: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class TriggerRecord:
    """One trigger: its definition (file and content digest), the paths it matched with their
    fingerprints (sorted), and what its handlers created (sorted by path)."""

    name: str
    definition: str
    inputs: tuple[tuple[str, str], ...]
    outputs: tuple[Output, ...] = ()

    def input_map(self) -> dict[str, str]:
        return dict(self.inputs)


@dataclass(frozen=True)
class Artefacts:
    """The record of one state's tree."""

    state: int
    triggers: tuple[TriggerRecord, ...]

    def outputs(self) -> Iterable[Output]:
        for record in self.triggers:
            yield from record.outputs


def fingerprint(node: Node) -> str:
    """What a trigger input is, as far as its handlers can tell: kind and content."""
    if node.kind is FileKind.DIRECTORY:
        return "d"
    if node.kind is FileKind.SYMLINK:
        return f"l:{node.link_target}"
    return f"r:{node.digest:032x}" if node.digest is not None else f"r:{node.kind.name}"


def encode(artefacts: Artefacts) -> str:
    data = {
        "version": _VERSION,
        "state": artefacts.state,
        "triggers": [
            {
                "name": record.name,
                "definition": record.definition,
                "inputs": [list(pair) for pair in record.inputs],
                "outputs": [[o.path, o.kind, o.digest, o.size, o.mtime_ns] for o in record.outputs],
            }
            for record in artefacts.triggers
        ],
    }
    return json.dumps(data, separators=(",", ":")) + "\n"


def decode(text: str) -> Artefacts | None:
    """The record, or None for anything that is not one this version wrote (the tree is then
    not recycled): the file sits in a tree that system triggers may write to."""
    try:
        data = json.loads(text)
        if data["version"] != _VERSION or type(data["state"]) is not int:
            return None
        triggers = tuple(_record(item) for item in data["triggers"])
    except (ValueError, KeyError, TypeError):
        return None
    return Artefacts(state=data["state"], triggers=triggers)


def _record(item: Any) -> TriggerRecord:
    name, definition = item["name"], item["definition"]
    if not isinstance(name, str) or not isinstance(definition, str):
        raise TypeError("name")
    inputs = tuple((_path(path), _text(fp)) for path, fp in item["inputs"])
    outputs = tuple(_output(*fields) for fields in item["outputs"])
    return TriggerRecord(name, definition, inputs, outputs)


def _output(path: Any, kind: Any, digest: Any, size: Any, mtime_ns: Any) -> Output:
    if kind not in OUTPUT_KINDS or type(size) is not int or type(mtime_ns) is not int:
        raise TypeError("output")
    return Output(_path(path), kind, _text(digest), size, mtime_ns)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("text")
    return value


def _path(value: Any) -> str:
    """An absolute path strictly inside `/usr`, with no `.`, `..` or empty component."""
    path = _text(value)
    parts = path.split("/")
    if path == "/":
        return path
    if not path.startswith(f"{TOP}/") or any(part in ("", ".", "..") for part in parts[1:]):
        raise ValueError(f"not a path inside {TOP}: {path!r}")
    return path


def blocks_update(artefacts: Artefacts, changed: Iterable[str], removed: Iterable[str]) -> bool:
    """Whether updating the tree would meet a trigger's output: an output at a path where
    either state has an entry, or beneath an entry the update removes. The whole-tree path
    is then the one that gives the tree a fresh run would."""
    outputs = {output.path for output in artefacts.outputs()}
    if not outputs:
        return False
    if not outputs.isdisjoint(changed):
        return True
    gone = set(removed)
    for path in outputs:
        parent = path
        while parent != TOP and "/" in parent:
            parent = parent[: parent.rfind("/")]
            if parent in gone:
                return True
    return False


def candidate_paths(artefacts: Artefacts, changed: Mapping[str, str | None]) -> dict[str, str]:
    """The paths a recycled transaction matches trigger patterns against, with their
    fingerprints: the changed paths present in the new tree, and every recorded input the
    change did not touch (it is still there, as it was)."""
    found = {path: fp for path, fp in changed.items() if fp is not None}
    for record in artefacts.triggers:
        for path, fp in record.inputs:
            if path not in changed:
                found[path] = fp
    return found


def created_entries(before: Listing, after: Listing) -> tuple[list[str], bool]:
    """The entries (relative to `/usr`) that appeared between two listings, in path order,
    and whether any entry that was there went or was replaced (another inode)."""
    created: list[str] = []
    touched = False
    for directory, names in after.items():
        old = before.get(directory)
        prefix = f"{directory}/" if directory else ""
        for name, inode in names.items():
            if old is None or name not in old:
                created.append(prefix + name)
            elif old[name] != inode:
                touched = True
        if old is not None and not touched:
            touched = any(name not in names for name in old)
    touched = touched or any(directory not in after for directory in before)
    return sorted(created), touched

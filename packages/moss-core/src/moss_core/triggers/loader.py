"""Read trigger files from a tree. Broken files are skipped and reported, never fatal."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from moss_core.triggers.errors import TriggerLoadError
from moss_core.triggers.files import SUFFIX, Scope, trigger_files
from moss_core.triggers.model import KNOWN_KEYS, Trigger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadWarning:
    """A problem found while loading; `path` names the file concerned."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class LoadResult:
    """The triggers that loaded, in file order, the file each came from, and everything that
    was skipped or odd."""

    triggers: tuple[Trigger, ...]
    warnings: tuple[LoadWarning, ...]
    sources: tuple[Path, ...]


def parse_trigger(text: str, source: Path | str = "<string>") -> tuple[Trigger, tuple[str, ...]]:
    """Parse one trigger file's text; return the trigger and the top-level keys it ignored.

    Raises `TriggerLoadError` naming `source` and the problem.
    """
    try:
        data: Any = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise TriggerLoadError(source, f"invalid YAML: {_one_line(str(error))}") from error
    except ValueError as error:
        # ruamel.yaml takes scalars such as `._` for floats and then fails to convert them.
        raise TriggerLoadError(source, f"invalid YAML value: {error}") from error
    if not isinstance(data, dict):
        raise TriggerLoadError(source, "a trigger file must be a YAML mapping")
    try:
        trigger = Trigger.model_validate(data)
    except ValidationError as error:
        raise TriggerLoadError(source, _describe(error, data)) from error
    ignored = tuple(sorted(str(key) for key in data if key not in KNOWN_KEYS))
    return trigger, ignored


def load_trigger_file(path: Path) -> tuple[Trigger, tuple[str, ...]]:
    """Read and parse one trigger file; see `parse_trigger`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TriggerLoadError(path, f"cannot read: {error}") from error
    return parse_trigger(text, path)


def load_triggers(root: Path, scope: Scope) -> LoadResult:
    """Load `<scope>.yaml` and every `<scope>.d/*.yaml` under the trigger directory of `root`.

    Files are read in name order. A file that cannot be loaded, that does not end in `.yaml`,
    or whose trigger name is already taken by an earlier file is skipped; each such event and
    each ignored key becomes a `LoadWarning`, which is also logged.
    """
    return load_trigger_files(trigger_files(root, scope))


def load_trigger_files(paths: Iterable[Path]) -> LoadResult:
    """Load the given files in order, with the rules of `load_triggers`."""
    triggers: dict[str, tuple[Trigger, Path]] = {}
    warnings: list[LoadWarning] = []

    def warn(path: Path, message: str) -> None:
        warning = LoadWarning(path, message)
        log.warning("trigger file %s", warning)
        warnings.append(warning)

    for path in paths:
        if path.suffix != SUFFIX or not path.is_file():
            warn(path, f"skipped: not a regular file ending in {SUFFIX}")
            continue
        try:
            trigger, ignored = load_trigger_file(path)
        except TriggerLoadError as error:
            warn(path, f"skipped: {error.problem}")
            continue
        if trigger.name in triggers:
            first = triggers[trigger.name][1]
            warn(path, f"skipped: trigger name {trigger.name!r} is already defined by {first}")
            continue
        for key in ignored:
            warn(path, f"unknown key {key!r} ignored")
        triggers[trigger.name] = (trigger, path)
    return LoadResult(
        triggers=tuple(trigger for trigger, _ in triggers.values()),
        warnings=tuple(warnings),
        sources=tuple(path for _, path in triggers.values()),
    )


def _describe(error: ValidationError, data: dict[Any, Any]) -> str:
    # The model sees `paths` as a list of rules; name the rule by its pattern, as written.
    patterns = list(data["paths"]) if isinstance(data.get("paths"), dict) else []
    problems = []
    for item in error.errors(include_url=False):
        parts = [str(part) for part in item["loc"]]
        if len(parts) > 1 and parts[0] == "paths" and item["loc"][1] in range(len(patterns)):
            parts[:2] = [f"paths[{patterns[int(item['loc'][1])]!r}]"]
        where = ".".join(parts)
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _one_line(text: str) -> str:
    return " ".join(text.split())

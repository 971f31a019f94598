"""Typed model of a trigger file (schema of spec §3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from fnmatch_ext import Pattern


class FileKind(StrEnum):
    """What a path of the tree is. Devices, fifos and sockets count as regular files."""

    REGULAR = "regular"
    DIRECTORY = "directory"
    SYMLINK = "symlink"


class _Closed(BaseModel):
    # Inside handlers and inhibitors an unknown key is a mistake (e.g. `run` and `delete`
    # together), not an extension point.
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunHandler(_Closed):
    """Run `run` with `args` (no shell). `$(name)` in either is replaced by a capture."""

    run: Annotated[str, Field(min_length=1)]
    args: tuple[str, ...]


class DeleteHandler(_Closed):
    """Delete the listed paths (relative to the root the trigger runs in)."""

    delete: tuple[str, ...]


def _handler_kind(value: Any) -> str:
    is_delete = isinstance(value, DeleteHandler) or (
        isinstance(value, Mapping) and "delete" in value
    )
    return "delete" if is_delete else "run"


Handler = Annotated[
    Annotated[RunHandler, Tag("run")] | Annotated[DeleteHandler, Tag("delete")],
    Discriminator(_handler_kind),
]


class Inhibitors(_Closed):
    """The trigger is skipped when any listed path exists or any listed environment is active."""

    paths: tuple[str, ...]
    environment: tuple[str, ...]


def _compile(value: Any) -> Any:
    return Pattern(value) if isinstance(value, str) else value


class PathRule(BaseModel):
    """Paths matching `pattern` (and of kind `type`, when given) fire `handlers`."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    pattern: Annotated[Pattern, BeforeValidator(_compile)]
    handlers: tuple[str, ...]
    # Upstream's schema knows only these two; accepting more would load files upstream rejects.
    type: Literal["directory", "symlink"] | None = None

    @property
    def kind(self) -> FileKind | None:
        """The kind of path this rule is restricted to, if any."""
        return None if self.type is None else FileKind(self.type)


class Trigger(BaseModel):
    """One trigger file."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Annotated[str, Field(min_length=1)]
    description: str
    before: str | None = None
    after: str | None = None
    inhibitors: Inhibitors = Inhibitors(paths=(), environment=())
    handlers: dict[str, Handler]
    paths: tuple[PathRule, ...]

    @field_validator("paths", mode="before")
    @classmethod
    def _rules_from_mapping(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        rules: list[Any] = []
        for pattern, rule in value.items():
            if not isinstance(rule, Mapping) or "pattern" in rule:
                raise ValueError(f"paths entry {pattern!r} must map to handlers and type")
            rules.append({"pattern": pattern, **rule})
        return rules

    @model_validator(mode="after")
    def _handlers_exist(self) -> Trigger:
        for rule in self.paths:
            for handler in rule.handlers:
                if handler not in self.handlers:
                    raise ValueError(f"missing handler reference in {self.name}: {handler}")
        return self


KNOWN_KEYS = frozenset(Trigger.model_fields)

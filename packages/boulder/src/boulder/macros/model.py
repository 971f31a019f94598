"""Macro files as data: actions, definitions, flags, tuning groups, package templates (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from boulder.script import Action
from boulder.yamlshape import ShapeError, ordered_items, string_list

Toolchain = Literal["llvm", "gnu"]
FlagKind = Literal["c", "cxx", "f", "d", "rust", "vala", "go", "ld"]
FLAG_KINDS: tuple[FlagKind, ...] = ("c", "cxx", "f", "d", "rust", "vala", "go", "ld")
TOOLCHAINS: tuple[Toolchain, ...] = ("llvm", "gnu")


@dataclass(frozen=True, slots=True)
class Flag:
    """Compiler flags of one named flag set: `common` for any toolchain, `by_toolchain` wins."""

    common: dict[str, str] = field(default_factory=dict)
    by_toolchain: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, kind: FlagKind, toolchain: Toolchain) -> str | None:
        specific = self.by_toolchain.get(toolchain, {})
        if kind in specific:
            return specific[kind]
        return self.common.get(kind)


@dataclass(frozen=True, slots=True)
class TuningOption:
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TuningGroup:
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    default: str | None = None
    options: dict[str, TuningOption] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PackageTemplate:
    """A package every recipe may produce; fields are unexpanded (`%(name)-devel`)."""

    name: str
    summary: str | None = None
    description: str | None = None
    rundeps: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MacroFile:
    """One `macros/arch/*.yaml` or `macros/actions/*.yaml` file."""

    identifier: str
    actions: dict[str, Action] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)
    flags: dict[str, Flag] = field(default_factory=dict)
    tuning: dict[str, TuningGroup] = field(default_factory=dict)
    packages: tuple[PackageTemplate, ...] = ()
    default_tuning_groups: tuple[str, ...] = ()


def _text(value: Any, path: tuple[str | int, ...]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ShapeError("expected a string", path)
    return str(value)


def _mapping(value: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ShapeError("expected a map", path)
    return {str(k): v for k, v in value.items()}


def _action(value: Any, path: tuple[str | int, ...]) -> Action:
    body = _mapping(value, path)
    if "command" not in body:
        raise ShapeError("an action needs a command", path)
    example = body.get("example")
    return Action(
        command=_text(body["command"], (*path, "command")).strip(),
        description=_text(body.get("description"), (*path, "description")).strip(),
        example=None if example is None else _text(example, (*path, "example")),
        dependencies=string_list(body.get("dependencies"), (*path, "dependencies")),
    )


def _flag(value: Any, path: tuple[str | int, ...]) -> Flag:
    common: dict[str, str] = {}
    by_toolchain: dict[str, dict[str, str]] = {}
    for key, inner in _mapping(value, path).items():
        if key in TOOLCHAINS:
            by_toolchain[key] = {
                k: _text(v, (*path, key, k))
                for k, v in _mapping(inner, (*path, key)).items()
                if k in FLAG_KINDS
            }
        elif key in FLAG_KINDS:
            common[key] = _text(inner, (*path, key))
    return Flag(common, by_toolchain)


def _group(value: Any, path: tuple[str | int, ...]) -> TuningGroup:
    body = _mapping(value, path)
    options = {
        name: TuningOption(
            enabled=string_list(_mapping(opt, (*path, "options", name)).get("enabled")),
            disabled=string_list(_mapping(opt, (*path, "options", name)).get("disabled")),
        )
        for name, opt in ordered_items(body.get("options"), (*path, "options"))
    }
    default = body.get("default")
    return TuningGroup(
        enabled=string_list(body.get("enabled"), (*path, "enabled")),
        disabled=string_list(body.get("disabled"), (*path, "disabled")),
        default=None if default is None else _text(default, (*path, "default")),
        options=options,
    )


def _template(name: str, value: Any, path: tuple[str | int, ...]) -> PackageTemplate:
    body = _mapping(value, path)
    summary, description = body.get("summary"), body.get("description")
    paths: list[str] = []
    for index, item in enumerate(body.get("paths") or []):
        # A path is a glob or `{glob: kind}`; the kind is never used for collection.
        if isinstance(item, dict) and len(item) == 1:
            paths.append(str(next(iter(item))))
        else:
            paths.append(_text(item, (*path, "paths", index)))
    return PackageTemplate(
        name=name,
        summary=None if summary is None else _text(summary, (*path, "summary")),
        description=None if description is None else _text(description, (*path, "description")),
        rundeps=string_list(body.get("rundeps"), (*path, "rundeps")),
        paths=tuple(paths),
    )


def parse_macro_file(identifier: str, document: Any) -> MacroFile:
    """Build a MacroFile from a loaded YAML document; unknown keys are ignored."""
    top = _mapping(document, ())
    return MacroFile(
        identifier=identifier,
        actions={
            name: _action(v, ("actions", name))
            for name, v in ordered_items(top.get("actions"), ("actions",))
        },
        definitions={
            name: _text(v, ("definitions", name)).strip()
            for name, v in ordered_items(top.get("definitions"), ("definitions",))
        },
        flags={
            name: _flag(v, ("flags", name))
            for name, v in ordered_items(top.get("flags"), ("flags",))
        },
        tuning={
            name: _group(v, ("tuning", name))
            for name, v in ordered_items(top.get("tuning"), ("tuning",))
        },
        packages=tuple(
            _template(name, v, ("packages", name))
            for name, v in ordered_items(top.get("packages"), ("packages",))
        ),
        default_tuning_groups=string_list(top.get("defaultTuningGroups"), ("defaultTuningGroups",)),
    )

"""The `stone.yaml` schema (spec §1) as pydantic models. Unknown keys are ignored everywhere.

Ordered maps (`profiles`, `packages`, `tuning`, `upstreams`) are validated in their YAML shape, a
list of single-key maps, so a validation error's location is also a path into the document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from boulder.yamlshape import ShapeError, lenient_bool


def _version(value: Any) -> Any:
    # Numbers become text the way upstream prints them: 49.0 stays "49.0", 1.10 becomes "1.1".
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(float(value))
    return value


def _list_or_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return [] if value is None else value


Bool = Annotated[bool, BeforeValidator(lenient_bool)]
StrList = Annotated[tuple[StrictStr, ...], BeforeValidator(_list_or_scalar)]
PhaseText = Annotated[StrictStr | None, Field(default=None)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


_M = TypeVar("_M", bound=_Model)


class PathRule(_Model):
    """A collection glob; `kind` (any/exe/symlink/special) is validated but never used."""

    glob: str
    kind: Literal["any", "exe", "symlink", "special"] = "any"


def _paths(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, list):
        return value
    rules: list[Any] = []
    for item in value:
        if isinstance(item, dict) and len(item) == 1:
            ((glob, kind),) = item.items()
            rules.append({"glob": glob, "kind": kind})
        else:
            rules.append({"glob": item})
    return rules


Paths = Annotated[tuple[PathRule, ...], BeforeValidator(_paths)]


class Package(_Model):
    """A `packages` entry (sub-package) or the main package's own keys."""

    summary: StrictStr | None = None
    description: StrictStr | None = None
    rundeps: StrList = ()
    rundeps_exclude: StrList = Field(default=(), alias="rundeps-exclude")
    provides_exclude: StrList = Field(default=(), alias="provides-exclude")
    conflicts: StrList = ()
    paths: Paths = ()


class Profile(_Model):
    """Per-target overrides; each missing phase falls back to the top level."""

    setup: PhaseText
    build: PhaseText
    install: PhaseText
    check: PhaseText
    workload: PhaseText
    environment: StrictStr | None = None
    builddeps: StrList = ()
    checkdeps: StrList = ()


@dataclass(frozen=True, slots=True)
class PlainUpstream:
    url: str
    hash: str
    rename: str | None = None
    unpack: bool = True
    stripdirs: int = 1
    unpackdir: str | None = None

    @property
    def file_name(self) -> str:
        """The stored file name: `rename`, else the last URL path segment (still encoded)."""
        return self.rename or url_file_name(self.url)

    @property
    def directory(self) -> str:
        return self.unpackdir or self.file_name


@dataclass(frozen=True, slots=True)
class GitUpstream:
    url: str
    ref: str
    clonedir: str | None = None

    @property
    def file_name(self) -> str:
        return url_file_name(self.url)

    @property
    def directory(self) -> str:
        return self.clonedir or self.file_name


Upstream = PlainUpstream | GitUpstream


def url_file_name(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]


class _PlainProps(_Model):
    # Built on first use: most recipes give their upstreams no property map.
    model_config = ConfigDict(defer_build=True)

    hash: StrictStr
    rename: StrictStr | None = None
    unpack: Bool = True
    stripdirs: int = Field(default=1, ge=0)
    unpackdir: StrictStr | None = None


class _GitProps(_Model):
    model_config = ConfigDict(defer_build=True)

    ref: StrictStr
    clonedir: StrictStr | None = None


def _hash(value: str, path: tuple[str | int, ...]) -> str:
    if len(value) < 5:
        raise ShapeError(f"hash too short: {value}", path)
    return value


def _props(model: type[_M], value: Any, path: tuple[str | int, ...]) -> _M:
    try:
        return model.model_validate(value)
    except ValidationError as err:
        first = err.errors()[0]
        raise ShapeError(validation_message(first), (*path, *first["loc"])) from err


def parse_upstream(key: str, value: Any, path: tuple[str | int, ...] = ()) -> Upstream:
    """One `upstreams` item: `url: sha256`, `git|url: ref`, or either with a property map."""
    is_git = key.startswith("git|")
    url = key[4:] if is_git else key
    path = (*path, key)
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
        return GitUpstream(url, text) if is_git else PlainUpstream(url, _hash(text, path))
    if not isinstance(value, dict):
        raise ShapeError("expected a hash, a git ref or a map of upstream properties", path)
    if "hash" in value:
        if is_git:
            raise ShapeError("mismatched URL type and upstream properties", path)
        plain = _props(_PlainProps, value, path)
        return PlainUpstream(
            url,
            _hash(plain.hash, (*path, "hash")),
            plain.rename,
            plain.unpack,
            plain.stripdirs,
            plain.unpackdir,
        )
    if "ref" in value:
        if not is_git:
            raise ShapeError("mismatched URL type and upstream properties", path)
        git = _props(_GitProps, value, path)
        return GitUpstream(url, git.ref, git.clonedir)
    raise ShapeError("upstream properties need `hash` (plain) or `ref` (git)", path)


_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a map",
    "float_type": "a number",
    "float_parsing": "a number",
}


def _found(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 40 else "longer text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


def validation_message(error: Any) -> str:
    """A pydantic error in the project's words: what was expected, what was found."""
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, found {_found(error.get('input'))}"
    return str(error["msg"]).removeprefix("Value error, ")


@dataclass(frozen=True, slots=True)
class TuningItem:
    """`- grp` / `- grp: true` enable, `- grp: false` disable, `- grp: <option>` enable with it."""

    group: str
    enable: bool = True
    option: str | None = None


def _single_key(item: Any, path: tuple[str | int, ...]) -> tuple[str, Any]:
    if isinstance(item, dict) and len(item) == 1:
        ((key, value),) = item.items()
        return str(key), value
    raise ShapeError("expected a single-key map", path)


class Recipe(_Model):
    name: StrictStr
    version: Annotated[StrictStr, BeforeValidator(_version)]
    release: int = Field(strict=True)
    homepage: StrictStr
    license: StrList
    summary: StrictStr | None = None
    description: StrictStr | None = None
    upstreams: tuple[Upstream, ...] = ()
    builddeps: StrList = ()
    checkdeps: StrList = ()
    rundeps: StrList = ()
    conflicts: StrList = ()
    rundeps_exclude: StrList = Field(default=(), alias="rundeps-exclude")
    provides_exclude: StrList = Field(default=(), alias="provides-exclude")
    paths: Paths = ()
    environment: StrictStr | None = None
    setup: PhaseText
    build: PhaseText
    install: PhaseText
    check: PhaseText
    workload: PhaseText
    toolchain: Literal["llvm", "gnu"] = "llvm"
    networking: Bool = False
    strip: Bool = True
    debug: Bool = True
    lastrip: Bool = True
    compressman: Bool = False
    cspgo: Bool = False
    samplepgo: Bool = False
    emul32: Bool = False
    mold: Bool = False
    architectures: StrList = ()
    tuning: tuple[TuningItem, ...] = ()
    profiles: tuple[tuple[str, Profile], ...] = ()
    packages: tuple[tuple[str, Package], ...] = ()

    @field_validator("license", mode="after")
    @classmethod
    def _sorted_licenses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(value))

    @field_validator("upstreams", mode="before")
    @classmethod
    def _upstreams(cls, value: Any) -> Any:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ShapeError("expected a list of upstreams", ("upstreams",))
        return tuple(
            parse_upstream(*_single_key(item, ("upstreams", i)), ("upstreams", i))
            for i, item in enumerate(value)
        )

    @field_validator("tuning", mode="before")
    @classmethod
    def _tuning(cls, value: Any) -> Any:
        items: list[TuningItem] = []
        if value is not None and not isinstance(value, list):
            raise ShapeError("expected a list of tuning groups", ("tuning",))
        for index, item in enumerate(value or []):
            if isinstance(item, str):
                items.append(TuningItem(item))
                continue
            group, setting = _single_key(item, ("tuning", index))
            if setting is None or setting is True:
                items.append(TuningItem(group))
            elif setting is False:
                items.append(TuningItem(group, enable=False))
            elif isinstance(setting, str):
                items.append(TuningItem(group, option=setting))
            else:
                raise ShapeError("expected true, false or an option name", ("tuning", index, group))
        return tuple(items)

    @field_validator("profiles", "packages", mode="before")
    @classmethod
    def _ordered(cls, value: Any, info: ValidationInfo) -> Any:
        key = str(info.field_name)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ShapeError("expected a list of single-key maps", (key,))
        return tuple(_single_key(item, (key, i)) for i, item in enumerate(value))

    def profile_for(self, target: str) -> Profile | None:
        """The exact target's profile, else (32-bit targets) the one keyed `emul32`."""
        found = dict(self.profiles)
        if target in found:
            return found[target]
        if target.startswith("emul32/"):
            return found.get("emul32")
        return None

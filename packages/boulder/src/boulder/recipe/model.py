"""The `stone.yaml` schema (spec §1), validated by pydantic's engine. Unknown keys are ignored.

The records are frozen dataclasses; each field carries the pydantic-core schema that validates it
(`_key`), and `_schema` gathers them into pydantic's own dataclass schema, so types, strictness
and error messages are pydantic's. The schema is written for pydantic-core directly because a
`BaseModel` costs every `boulder recipe check` the import of all of pydantic, its plugin discovery
and its schema generation: half of the command's start-up.

Ordered maps (`profiles`, `packages`, `tuning`, `upstreams`) are validated in their YAML shape, a
list of single-key maps, so a validation error's location is also a path into the document.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic_core import PydanticCustomError, SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

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


_SCHEMA = "schema"
_ALIAS = "alias"
# Settings every record shares, as pydantic's model configuration gave them.
_CONFIG = cs.CoreConfig(
    extra_fields_behavior="ignore", validate_by_alias=True, validate_by_name=True
)

_TEXT = cs.str_schema(strict=True)
_OPTIONAL_TEXT = cs.nullable_schema(_TEXT)
_BOOL = cs.no_info_before_validator_function(lenient_bool, cs.bool_schema())
_PATH_KIND = cs.literal_schema(["any", "exe", "symlink", "special"])
_STR_LIST = cs.no_info_before_validator_function(
    _list_or_scalar, cs.tuple_schema([_TEXT], variadic_item_index=0)
)


def _key(schema: cs.CoreSchema, default: Any = MISSING, *, alias: str | None = None) -> Any:
    """A record field validated by `schema`, read from `alias` (or its own name) in the YAML."""
    return field(default=default, metadata={_SCHEMA: schema, _ALIAS: alias})


def _schema(cls: type[Any]) -> cs.CoreSchema:
    """The pydantic-core schema of a record made with `_key` fields."""
    keys = [
        cs.dataclass_field(
            f.name,
            f.metadata[_SCHEMA]
            if f.default is MISSING
            else cs.with_default_schema(f.metadata[_SCHEMA], default=f.default),
            validation_alias=f.metadata[_ALIAS],
        )
        for f in fields(cls)
    ]
    return cs.dataclass_schema(
        cls,
        cs.dataclass_args_schema(cls.__name__, keys),
        [f.name for f in fields(cls)],
        frozen=True,
        slots=True,
        config=cs.CoreConfig(title=cls.__name__, **_CONFIG),
    )


def _map(cls: type[Any]) -> cs.CoreSchema:
    """`cls`'s schema where the YAML may hold any value: anything but a map is refused with the
    words of the pydantic models this schema replaced (a dataclass's would differ)."""

    def is_map(value: Any) -> Any:
        if isinstance(value, dict):
            return value
        raise PydanticCustomError(
            "model_type",
            "Input should be a valid dictionary or instance of {class_name}",
            {"class_name": cls.__name__},
        )

    return cs.no_info_before_validator_function(is_map, _schema(cls))


@dataclass(frozen=True, slots=True)
class PathRule:
    """A collection glob; `kind` (any/exe/symlink/special) is validated but never used."""

    glob: str = _key(cs.str_schema())
    kind: Literal["any", "exe", "symlink", "special"] = _key(_PATH_KIND, "any")


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


_PATHS = cs.no_info_before_validator_function(
    _paths, cs.tuple_schema([_schema(PathRule)], variadic_item_index=0)
)


@dataclass(frozen=True, slots=True)
class Package:
    """A `packages` entry (sub-package) or the main package's own keys."""

    summary: str | None = _key(_OPTIONAL_TEXT, None)
    description: str | None = _key(_OPTIONAL_TEXT, None)
    rundeps: tuple[str, ...] = _key(_STR_LIST, ())
    rundeps_exclude: tuple[str, ...] = _key(_STR_LIST, (), alias="rundeps-exclude")
    provides_exclude: tuple[str, ...] = _key(_STR_LIST, (), alias="provides-exclude")
    conflicts: tuple[str, ...] = _key(_STR_LIST, ())
    paths: tuple[PathRule, ...] = _key(_PATHS, ())


@dataclass(frozen=True, slots=True)
class Profile:
    """Per-target overrides; each missing phase falls back to the top level."""

    setup: str | None = _key(_OPTIONAL_TEXT, None)
    build: str | None = _key(_OPTIONAL_TEXT, None)
    install: str | None = _key(_OPTIONAL_TEXT, None)
    check: str | None = _key(_OPTIONAL_TEXT, None)
    workload: str | None = _key(_OPTIONAL_TEXT, None)
    environment: str | None = _key(_OPTIONAL_TEXT, None)
    builddeps: tuple[str, ...] = _key(_STR_LIST, ())
    checkdeps: tuple[str, ...] = _key(_STR_LIST, ())


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


@dataclass(frozen=True, slots=True)
class _PlainProps:
    hash: str = _key(_TEXT)
    rename: str | None = _key(_OPTIONAL_TEXT, None)
    unpack: bool = _key(_BOOL, True)
    stripdirs: int = _key(cs.int_schema(ge=0), 1)
    unpackdir: str | None = _key(_OPTIONAL_TEXT, None)


@dataclass(frozen=True, slots=True)
class _GitProps:
    ref: str = _key(_TEXT)
    clonedir: str | None = _key(_OPTIONAL_TEXT, None)


_PLAIN_PROPS = SchemaValidator(_schema(_PlainProps))
_GIT_PROPS = SchemaValidator(_schema(_GitProps))


def _hash(value: str, path: tuple[str | int, ...]) -> str:
    if len(value) < 5:
        raise ShapeError(f"hash too short: {value}", path)
    return value


def _props(validator: SchemaValidator, value: Any, path: tuple[str | int, ...]) -> Any:
    try:
        return validator.validate_python(value)
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
        plain: _PlainProps = _props(_PLAIN_PROPS, value, path)
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
        git: _GitProps = _props(_GIT_PROPS, value, path)
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


def _sorted(value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(value))


def _upstreams(value: Any) -> tuple[Upstream, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ShapeError("expected a list of upstreams", ("upstreams",))
    return tuple(
        parse_upstream(*_single_key(item, ("upstreams", i)), ("upstreams", i))
        for i, item in enumerate(value)
    )


def _tuning(value: Any) -> tuple[TuningItem, ...]:
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


def _ordered(key: str, record: type[Any]) -> cs.CoreSchema:
    """`key`'s list of single-key maps as (name, `record`) pairs, in the document's order."""

    def pairs(value: Any) -> Any:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ShapeError("expected a list of single-key maps", (key,))
        return tuple(_single_key(item, (key, i)) for i, item in enumerate(value))

    pair = cs.tuple_schema([cs.str_schema(), _map(record)])
    return cs.no_info_before_validator_function(
        pairs, cs.tuple_schema([pair], variadic_item_index=0)
    )


@dataclass(frozen=True, slots=True)
class Recipe:
    name: str = _key(_TEXT)
    version: str = _key(cs.no_info_before_validator_function(_version, _TEXT))
    release: int = _key(cs.int_schema(strict=True))
    homepage: str = _key(_TEXT)
    license: tuple[str, ...] = _key(cs.no_info_after_validator_function(_sorted, _STR_LIST))
    summary: str | None = _key(_OPTIONAL_TEXT, None)
    description: str | None = _key(_OPTIONAL_TEXT, None)
    upstreams: tuple[Upstream, ...] = _key(cs.no_info_plain_validator_function(_upstreams), ())
    builddeps: tuple[str, ...] = _key(_STR_LIST, ())
    checkdeps: tuple[str, ...] = _key(_STR_LIST, ())
    rundeps: tuple[str, ...] = _key(_STR_LIST, ())
    conflicts: tuple[str, ...] = _key(_STR_LIST, ())
    rundeps_exclude: tuple[str, ...] = _key(_STR_LIST, (), alias="rundeps-exclude")
    provides_exclude: tuple[str, ...] = _key(_STR_LIST, (), alias="provides-exclude")
    paths: tuple[PathRule, ...] = _key(_PATHS, ())
    environment: str | None = _key(_OPTIONAL_TEXT, None)
    setup: str | None = _key(_OPTIONAL_TEXT, None)
    build: str | None = _key(_OPTIONAL_TEXT, None)
    install: str | None = _key(_OPTIONAL_TEXT, None)
    check: str | None = _key(_OPTIONAL_TEXT, None)
    workload: str | None = _key(_OPTIONAL_TEXT, None)
    toolchain: Literal["llvm", "gnu"] = _key(cs.literal_schema(["llvm", "gnu"]), "llvm")
    networking: bool = _key(_BOOL, False)
    strip: bool = _key(_BOOL, True)
    debug: bool = _key(_BOOL, True)
    lastrip: bool = _key(_BOOL, True)
    compressman: bool = _key(_BOOL, False)
    cspgo: bool = _key(_BOOL, False)
    samplepgo: bool = _key(_BOOL, False)
    emul32: bool = _key(_BOOL, False)
    mold: bool = _key(_BOOL, False)
    architectures: tuple[str, ...] = _key(_STR_LIST, ())
    tuning: tuple[TuningItem, ...] = _key(cs.no_info_plain_validator_function(_tuning), ())
    profiles: tuple[tuple[str, Profile], ...] = _key(_ordered("profiles", Profile), ())
    packages: tuple[tuple[str, Package], ...] = _key(_ordered("packages", Package), ())

    def profile_for(self, target: str) -> Profile | None:
        """The exact target's profile, else (32-bit targets) the one keyed `emul32`."""
        found = dict(self.profiles)
        if target in found:
            return found[target]
        if target.startswith("emul32/"):
            return found.get("emul32")
        return None


_RECIPE = SchemaValidator(_schema(Recipe))


def validate_recipe(document: Any) -> Recipe:
    """The recipe in `document` (a YAML map); raises pydantic-core's ValidationError, or a
    ShapeError locating a malformed ordered map."""
    recipe: Recipe = _RECIPE.validate_python(document)
    return recipe

"""The Meta payload: tagged, typed records, and the `Meta` model built from them."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

from ._cursor import decode_text
from .errors import EncodeError, RecordError
from .relation import Dependency, Provider, RelationKind


class MetaTag(IntEnum):
    NAME = 1
    ARCHITECTURE = 2
    VERSION = 3
    SUMMARY = 4
    DESCRIPTION = 5
    HOMEPAGE = 6
    SOURCE_ID = 7
    DEPENDS = 8
    PROVIDES = 9
    CONFLICTS = 10
    RELEASE = 11
    LICENSE = 12
    BUILD_RELEASE = 13
    PACKAGE_URI = 14
    PACKAGE_HASH = 15
    PACKAGE_SIZE = 16
    BUILD_DEPENDS = 17
    SOURCE_URI = 18
    SOURCE_PATH = 19
    SOURCE_REF = 20


class Primitive(IntEnum):
    INT8 = 1
    UINT8 = 2
    INT16 = 3
    UINT16 = 4
    INT32 = 5
    UINT32 = 6
    INT64 = 7
    UINT64 = 8
    STRING = 9
    DEPENDENCY = 10
    PROVIDER = 11
    UNKNOWN = 255


_INTEGER_FORMATS: dict[int, struct.Struct] = {
    Primitive.INT8: struct.Struct(">b"),
    Primitive.UINT8: struct.Struct(">B"),
    Primitive.INT16: struct.Struct(">h"),
    Primitive.UINT16: struct.Struct(">H"),
    Primitive.INT32: struct.Struct(">i"),
    Primitive.UINT32: struct.Struct(">I"),
    Primitive.INT64: struct.Struct(">q"),
    Primitive.UINT64: struct.Struct(">Q"),
}
_HEAD = struct.Struct(">IHBB")

MetaValue = int | str | Dependency | Provider | bytes


@dataclass(frozen=True, slots=True)
class MetaRecord:
    """One record as stored. A relation of a kind this library does not know keeps its raw bytes."""

    tag: int
    primitive: int
    value: MetaValue


def decode_meta(data: bytes | memoryview, num_records: int) -> list[MetaRecord]:
    return [MetaRecord(*field) for field in decode_meta_fields(data, num_records)]


MetaField = tuple[int, int, MetaValue]


def decode_meta_fields(data: bytes | memoryview, num_records: int) -> list[MetaField]:
    """The records as `(tag, primitive, value)` tuples: what `Meta.from_fields` reads, without
    a record object each."""
    # One loop with every field a local, messages built only on failure: a repository index
    # holds a meta payload for each of up to 65,535 packages, some twenty records each.
    view = memoryview(data)
    size = len(view)
    head_unpack = _HEAD.unpack_from
    string, dependency = Primitive.STRING, Primitive.DEPENDENCY
    relations = (Primitive.DEPENDENCY, Primitive.PROVIDER)
    kinds = _RELATION_KINDS
    records: list[MetaField] = []
    append = records.append
    pos = 0
    for number in range(num_records):
        if size - pos < 8:
            raise RecordError(f"meta record {number} overruns the payload body")
        length, tag, primitive, _pad = head_unpack(view, pos)
        pos += 8
        end = pos + length
        if end > size:
            raise RecordError(f"meta record {number} overruns the payload body")
        raw = view[pos:end]
        pos = end
        value: MetaValue
        if primitive == string:
            try:
                # A NUL is one byte in UTF-8 and never inside a sequence: stripping after
                # decoding equals stripping before.
                value = str(raw, "utf-8").rstrip("\x00")
            except UnicodeDecodeError:
                value = decode_text(bytes(raw), f"meta record {number}")
        elif primitive in relations and length > 1:
            kind = kinds.get(raw[0])
            try:
                name = str(raw[1:], "utf-8").rstrip("\x00") if kind is not None else ""
            except UnicodeDecodeError:
                name = ""
            if name and kind is not None:
                value = (Dependency if primitive == dependency else Provider)(kind, name)
            else:
                # Unknown kinds, empty names and bad text: the general path says which.
                value = _decode_value(primitive, bytes(raw), f"meta record {number}")
        else:
            value = _decode_value(primitive, bytes(raw), f"meta record {number}")
        append((tag, primitive, value))
    if pos != size:
        raise RecordError(f"{size - pos} bytes left over after {num_records} meta records")
    return records


def _decode_value(primitive: int, raw: bytes, what: str) -> MetaValue:
    integer = _INTEGER_FORMATS.get(primitive)
    if integer is not None:
        if len(raw) != integer.size:
            raise RecordError(f"{what}: integer of length {len(raw)}, expected {integer.size}")
        value: int = integer.unpack(raw)[0]
        return value
    if primitive == Primitive.STRING:
        return decode_text(raw, what)
    if primitive in (Primitive.DEPENDENCY, Primitive.PROVIDER):
        if not raw:
            raise RecordError(f"{what}: empty dependency or provider")
        kind = _RELATION_KINDS.get(raw[0])
        if kind is None:
            # Forward compatibility, as moss: a relation kind from a newer format is kept raw
            # and left out of the typed model rather than failing the whole archive.
            return raw
        name = decode_text(raw[1:], what)
        if not name:
            raise RecordError(f"{what}: empty dependency or provider name")
        cls = Dependency if primitive == Primitive.DEPENDENCY else Provider
        return cls(kind, name)
    return raw


_RELATION_KINDS = {kind.value: kind for kind in RelationKind}


def encode_meta(records: Iterable[MetaRecord]) -> tuple[bytes, int]:
    """Pack records; returns the plain body and the record count."""
    out = bytearray()
    count = 0
    for record in records:
        raw = _encode_value(record)
        if len(raw) > 0xFFFFFFFF:
            raise EncodeError(f"meta tag {record.tag}: value of {len(raw)} bytes is too long")
        out += _HEAD.pack(len(raw), record.tag, record.primitive, 0)
        out += raw
        count += 1
    return bytes(out), count


def _encode_value(record: MetaRecord) -> bytes:
    value = record.value
    integer = _INTEGER_FORMATS.get(record.primitive)
    if integer is not None and isinstance(value, int):
        try:
            return integer.pack(value)
        except struct.error:
            raise EncodeError(f"meta tag {record.tag}: {value} does not fit") from None
    if record.primitive == Primitive.STRING and isinstance(value, str):
        return value.encode("utf-8") + b"\x00"
    if record.primitive in (Primitive.DEPENDENCY, Primitive.PROVIDER) and isinstance(
        value, Dependency | Provider
    ):
        return bytes((value.kind,)) + value.name.encode("utf-8") + b"\x00"
    if isinstance(value, bytes):
        return value
    raise EncodeError(
        f"meta tag {record.tag}: {value!r} cannot be written as primitive {record.primitive}"
    )


@dataclass(frozen=True)
class Meta:
    """A package's metadata, typed. Fields upstream writes as `""` when empty default to that."""

    name: str
    version: str
    release: int
    build_release: int = 1
    architecture: str = ""
    summary: str = ""
    description: str = ""
    source_id: str = ""
    homepage: str = ""
    licenses: tuple[str, ...] = ()
    depends: tuple[Dependency, ...] = ()
    provides: tuple[Provider, ...] = ()
    conflicts: tuple[Provider, ...] = ()
    build_depends: tuple[Dependency, ...] = ()
    uri: str | None = None
    hash: str | None = None
    download_size: int | None = None
    extra: tuple[MetaRecord, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        """moss's id of a local package: `name-version-release.arch`."""
        return f"{self.name}-{self.version}-{self.release}.{self.architecture}"

    @property
    def filename(self) -> str:
        """The file name boulder gives the binary package."""
        return (
            f"{self.name}-{self.version}-{self.release}-{self.build_release}"
            f"-{self.architecture}.stone"
        )

    @classmethod
    def from_records(cls, records: Sequence[MetaRecord]) -> Meta:
        return cls.from_fields([(r.tag, r.primitive, r.value) for r in records])

    @classmethod
    def from_fields(cls, fields: Iterable[MetaField]) -> Meta:
        scalars: dict[int, MetaValue] = {}
        lists: dict[int, list[MetaValue]] = {
            MetaTag.LICENSE: [],
            MetaTag.DEPENDS: [],
            MetaTag.PROVIDES: [],
            MetaTag.CONFLICTS: [],
            MetaTag.BUILD_DEPENDS: [],
        }
        extra: list[MetaRecord] = []
        scalar_tags = _SCALAR_TAGS
        for tag, primitive, value in fields:
            values = lists.get(tag)
            if values is not None:
                values.append(value)
            elif tag in scalar_tags:
                scalars[tag] = value
            else:
                extra.append(MetaRecord(tag, primitive, value))
        for tag in _REQUIRED_TAGS:
            if tag not in scalars:
                raise RecordError(f"meta has no {MetaTag(tag).name.lower()} record")
        return cls(
            name=_text(scalars, MetaTag.NAME),
            version=_text(scalars, MetaTag.VERSION),
            release=_integer(scalars, MetaTag.RELEASE),
            build_release=_integer(scalars, MetaTag.BUILD_RELEASE, 1),
            architecture=_text(scalars, MetaTag.ARCHITECTURE),
            summary=_text(scalars, MetaTag.SUMMARY),
            description=_text(scalars, MetaTag.DESCRIPTION),
            source_id=_text(scalars, MetaTag.SOURCE_ID),
            homepage=_text(scalars, MetaTag.HOMEPAGE),
            licenses=tuple(_texts(lists[MetaTag.LICENSE], MetaTag.LICENSE)),
            depends=_only(lists[MetaTag.DEPENDS], Dependency),
            provides=_only(lists[MetaTag.PROVIDES], Provider),
            conflicts=tuple(_as_providers(lists[MetaTag.CONFLICTS])),
            build_depends=_only(lists[MetaTag.BUILD_DEPENDS], Dependency),
            uri=_optional_text(scalars, MetaTag.PACKAGE_URI),
            hash=_optional_text(scalars, MetaTag.PACKAGE_HASH),
            download_size=_optional_integer(scalars, MetaTag.PACKAGE_SIZE),
            extra=tuple(extra),
        )

    def records(self, *, with_build_depends: bool = True) -> Iterator[MetaRecord]:
        """Records in upstream's writer order (spec §6): fixed fields, then sorted sets."""
        s, u64 = Primitive.STRING, Primitive.UINT64
        yield MetaRecord(MetaTag.NAME, s, self.name)
        yield MetaRecord(MetaTag.VERSION, s, self.version)
        yield MetaRecord(MetaTag.RELEASE, u64, self.release)
        yield MetaRecord(MetaTag.BUILD_RELEASE, u64, self.build_release)
        yield MetaRecord(MetaTag.ARCHITECTURE, s, self.architecture)
        yield MetaRecord(MetaTag.SUMMARY, s, self.summary)
        yield MetaRecord(MetaTag.DESCRIPTION, s, self.description)
        yield MetaRecord(MetaTag.SOURCE_ID, s, self.source_id)
        yield MetaRecord(MetaTag.HOMEPAGE, s, self.homepage)
        if self.uri is not None:
            yield MetaRecord(MetaTag.PACKAGE_URI, s, self.uri)
        if self.hash is not None:
            yield MetaRecord(MetaTag.PACKAGE_HASH, s, self.hash)
        if self.download_size is not None:
            yield MetaRecord(MetaTag.PACKAGE_SIZE, u64, self.download_size)
        for license_ in sorted(self.licenses):
            yield MetaRecord(MetaTag.LICENSE, s, license_)
        for dep in sorted(set(self.depends)):
            yield MetaRecord(MetaTag.DEPENDS, Primitive.DEPENDENCY, dep)
        # The package's own name is implied by every reader, so it is never written.
        for prov in sorted(set(self.provides)):
            if not (prov.kind is RelationKind.NAME and prov.name == self.name):
                yield MetaRecord(MetaTag.PROVIDES, Primitive.PROVIDER, prov)
        for conflict in sorted(set(self.conflicts)):
            yield MetaRecord(MetaTag.CONFLICTS, Primitive.PROVIDER, conflict)
        if with_build_depends:
            # Build dependencies sort by the text recipes use: bare names, not `name(..)`.
            for build_dep in sorted(set(self.build_depends), key=lambda dep: dep.plain_text):
                yield MetaRecord(MetaTag.BUILD_DEPENDS, Primitive.DEPENDENCY, build_dep)

    def all_provides(self) -> tuple[Provider, ...]:
        """Provides, with the implicit `name(<package name>)` every reader adds."""
        own = Provider(RelationKind.NAME, self.name)
        return self.provides if own in self.provides else (own, *self.provides)


_REQUIRED_TAGS = (MetaTag.NAME, MetaTag.VERSION, MetaTag.RELEASE)
_SCALAR_TAGS = frozenset(
    {
        MetaTag.NAME,
        MetaTag.ARCHITECTURE,
        MetaTag.VERSION,
        MetaTag.SUMMARY,
        MetaTag.DESCRIPTION,
        MetaTag.HOMEPAGE,
        MetaTag.SOURCE_ID,
        MetaTag.RELEASE,
        MetaTag.BUILD_RELEASE,
        MetaTag.PACKAGE_URI,
        MetaTag.PACKAGE_HASH,
        MetaTag.PACKAGE_SIZE,
    }
)


def _text(scalars: dict[int, MetaValue], tag: MetaTag) -> str:
    value = scalars.get(tag, "")
    if not isinstance(value, str):
        raise RecordError(f"meta {tag.name.lower()} is not a string")
    return value


def _optional_text(scalars: dict[int, MetaValue], tag: MetaTag) -> str | None:
    return _text(scalars, tag) if tag in scalars else None


def _integer(scalars: dict[int, MetaValue], tag: MetaTag, default: int = 0) -> int:
    value = scalars.get(tag, default)
    if not isinstance(value, int):
        raise RecordError(f"meta {tag.name.lower()} is not an integer")
    return value


def _optional_integer(scalars: dict[int, MetaValue], tag: MetaTag) -> int | None:
    return _integer(scalars, tag) if tag in scalars else None


_R = TypeVar("_R", Dependency, Provider)


def _only(values: list[MetaValue], cls: type[_R]) -> tuple[_R, ...]:
    """The relations of one kind, leaving out those of a kind from a newer format (raw)."""
    return tuple([value for value in values if isinstance(value, cls)]) if values else ()


def _texts(values: list[MetaValue], tag: MetaTag) -> Iterator[str]:
    for value in values:
        if not isinstance(value, str):
            raise RecordError(f"meta {tag.name.lower()} is not a string")
        yield value


def _as_providers(values: list[MetaValue]) -> Iterator[Provider]:
    # Conflicts are written as providers; accept dependency records too, the kind being the same.
    for value in values:
        if isinstance(value, Provider):
            yield value
        elif isinstance(value, Dependency):
            yield Provider(value.kind, value.name)


_PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._-]*")
_VERSION = re.compile(r"[0-9][A-Za-z0-9+._~-]*")


def check_package_fields(meta: Meta) -> None:
    """Refuse what moss and boulder cannot use as a package's identity: a name outside the
    characters every real package name uses (letters, digits, `+ . _ -`, starting with a letter
    or digit; no `/`, space or parenthesis), a version that does not start with a digit (as
    boulder requires of recipes), relation names with white space or control characters."""
    if not _PACKAGE_NAME.fullmatch(meta.name):
        raise ValueError(
            f"name {meta.name!r} is not a package name "
            "(letters, digits and + . _ -, starting with a letter or digit)"
        )
    if not _VERSION.fullmatch(meta.version):
        raise ValueError(
            f"version {meta.version!r} is not a version "
            "(letters, digits and + . _ ~ -, starting with a digit)"
        )
    if meta.source_id and not _PACKAGE_NAME.fullmatch(meta.source_id):
        raise ValueError(f"source id {meta.source_id!r} is not a package name")
    for relation in (*meta.depends, *meta.provides, *meta.conflicts, *meta.build_depends):
        if any(c.isspace() or not c.isprintable() for c in relation.name):
            raise ValueError(f"{str(relation)!r} has white space or control characters")

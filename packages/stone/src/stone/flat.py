"""A Meta payload as flat columns, the relations as text: what a repository refresh stores.

An index holds a Meta payload for each of up to 65,535 packages, some sixteen records each;
building a record tuple, a relation object and a `Meta` for every one of them was most of a
refresh. `flat_meta` reads the payload in one loop straight into the columns. It takes only
the records every writer makes, in the primitives they use; a payload with anything else (an
unknown tag or primitive, a relation of a newer kind, text that is not UTF-8, a malformed
record) is decoded by the general decoder instead, so its result and its errors are exactly
those of `Meta.from_fields(decode_meta_fields(...))`. The loop runs in C where stone's
optional extension `_flatc` was built (about six times faster), in Python otherwise; the two
give the same for every input.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from .meta import Meta, MetaTag, Primitive, decode_meta_fields
from .relation import RelationKind


def _c_loop() -> Callable[[bytes | bytearray | memoryview, int], tuple[Any, ...] | None] | None:
    """`_fast`'s loop in C (`stone._flatc`), where it was built: installing stone compiles it
    when a C compiler and Python's headers are there, and goes without it otherwise."""
    try:
        from ._flatc import decode
    except ImportError:
        return None
    return decode


_decode_in_c = _c_loop()


class FlatMeta(NamedTuple):
    """A package's metadata as stored: scalars, then licenses and relations as `kind(name)`.

    Relations and licenses are in record order, repeats kept; `provides` lacks the implicit
    `name(<name>)`, and `build_depends` and unknown records are not kept.
    """

    name: str
    version: str
    release: int
    build_release: int
    architecture: str
    summary: str
    description: str
    source_id: str
    homepage: str
    uri: str | None
    hash: str | None
    download_size: int | None
    licenses: tuple[str, ...]
    depends: tuple[str, ...]
    provides: tuple[str, ...]
    conflicts: tuple[str, ...]

    @classmethod
    def of(cls, meta: Meta) -> FlatMeta:
        return cls(
            meta.name,
            meta.version,
            meta.release,
            meta.build_release,
            meta.architecture,
            meta.summary,
            meta.description,
            meta.source_id,
            meta.homepage,
            meta.uri,
            meta.hash,
            meta.download_size,
            meta.licenses,
            tuple(map(str, meta.depends)),
            tuple(map(str, meta.provides)),
            tuple(map(str, meta.conflicts)),
        )


def flat_meta(data: bytes | bytearray | memoryview, num_records: int) -> FlatMeta:
    """The payload's columns; a RecordError for a payload `Meta.from_fields` refuses."""
    if _decode_in_c is None:
        flat = _fast(data, num_records)
    else:
        fields = _decode_in_c(data, num_records)
        flat = None if fields is None else FlatMeta._make(fields)
    if flat is None:
        flat = FlatMeta.of(Meta.from_fields(decode_meta_fields(memoryview(data), num_records)))
    return flat


# Slots of the scalars in `FlatMeta`, and of the lists after them.
_NAME, _VERSION, _RELEASE, _BUILD_RELEASE = 0, 1, 2, 3
_LICENSES, _DEPENDS, _PROVIDES, _CONFLICTS, _IGNORED = 0, 1, 2, 3, 4
# What each (tag, primitive) pair the fast loop takes does: the scalar or list slot it fills.
_STRING_SLOTS = {
    MetaTag.NAME: _NAME,
    MetaTag.VERSION: _VERSION,
    MetaTag.ARCHITECTURE: 4,
    MetaTag.SUMMARY: 5,
    MetaTag.DESCRIPTION: 6,
    MetaTag.SOURCE_ID: 7,
    MetaTag.HOMEPAGE: 8,
    MetaTag.PACKAGE_URI: 9,
    MetaTag.PACKAGE_HASH: 10,
}
_U64_SLOTS = {
    MetaTag.RELEASE: _RELEASE,
    MetaTag.BUILD_RELEASE: _BUILD_RELEASE,
    MetaTag.PACKAGE_SIZE: 11,
}
_RELATION_SLOTS = {
    (MetaTag.DEPENDS, Primitive.DEPENDENCY): _DEPENDS,
    (MetaTag.PROVIDES, Primitive.PROVIDER): _PROVIDES,
    (MetaTag.CONFLICTS, Primitive.PROVIDER): _CONFLICTS,
    (MetaTag.CONFLICTS, Primitive.DEPENDENCY): _CONFLICTS,
    (MetaTag.BUILD_DEPENDS, Primitive.DEPENDENCY): _IGNORED,
}
_STRING, _U64, _RELATION, _LICENSE = 0, 1, 2, 3
# (tag << 8 | primitive) -> (action, slot)
_ACTIONS: dict[int, tuple[int, int]] = {
    **{tag << 8 | Primitive.STRING: (_STRING, slot) for tag, slot in _STRING_SLOTS.items()},
    **{tag << 8 | Primitive.UINT64: (_U64, slot) for tag, slot in _U64_SLOTS.items()},
    **{tag << 8 | prim: (_RELATION, slot) for (tag, prim), slot in _RELATION_SLOTS.items()},
    MetaTag.LICENSE << 8 | Primitive.STRING: (_LICENSE, _LICENSES),
}
# The head of a record: its length, then tag, primitive and pad byte as one number.
_HEAD = struct.Struct(">II")
_U64_VALUE = struct.Struct(">Q")
_PREFIX = {kind.value: f"{kind.text}(" for kind in RelationKind}
# The scalars before any record: name, version and release must be given; the others
# default as `Meta.from_fields` defaults them.
_MISSING = object()
_START: tuple[object, ...] = (_MISSING, _MISSING, _MISSING, 1, "", "", "", "", "", None, None, None)


def _fast(data: bytes | bytearray | memoryview, num_records: int) -> FlatMeta | None:
    """The columns, or None where the general decoder must decide."""
    # Slices of bytes decode faster than slices of a memoryview. Every writer ends a string
    # with one NUL: the text is decoded without it, and a value with more (or none) goes to
    # the general decoder, which strips every trailing NUL.
    raw = data if isinstance(data, bytes) else bytes(data)
    size = len(raw)
    head = _HEAD.unpack_from
    actions = _ACTIONS.get
    prefixes = _PREFIX.get
    u64 = _U64_VALUE.unpack_from
    scalars = list(_START)
    lists: tuple[list[str], ...] = ([], [], [], [], [])
    pos = 0
    for _ in range(num_records):
        if size - pos < 8:
            return None
        length, code = head(raw, pos)
        pos += 8
        end = pos + length
        action = actions(code >> 8)
        if action is None or end > size:
            return None
        what, slot = action
        if what == _U64:
            if length != 8:
                return None
            scalars[slot] = u64(raw, pos)[0]
            pos = end
            continue
        # Strings and relations: one NUL at the end, none before it.
        if length < 2 or raw[end - 1] or not raw[end - 2]:
            if length != 1 or raw[pos] or what == _RELATION:
                return None
            text = ""
        else:
            try:
                text = raw[pos : end - 1].decode()
            except UnicodeDecodeError:
                return None
        if what == _STRING:
            scalars[slot] = text
        elif what == _RELATION:
            prefix = prefixes(raw[pos])
            if prefix is None or len(text) < 2:
                return None
            lists[slot].append(prefix + text[1:] + ")")
        else:
            lists[slot].append(text)
        pos = end
    if pos != size or _MISSING in scalars:
        return None
    licenses, depends, provides, conflicts, _ignored = lists
    return FlatMeta._make(
        (*scalars, tuple(licenses), tuple(depends), tuple(provides), tuple(conflicts))
    )

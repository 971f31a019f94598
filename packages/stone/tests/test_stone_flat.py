"""stone.flat: the one-loop Meta decoder gives exactly what the record decoder gives, and its
loop in C (`stone._flatc`) exactly what its loop in Python gives."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stone_strategies import metas as meta_strategy
from stone_strategies import texts, u64s

from stone import (
    Dependency,
    FlatMeta,
    Meta,
    MetaRecord,
    MetaTag,
    PayloadKind,
    Primitive,
    RelationKind,
    StoneError,
    StoneReader,
)
from stone.flat import _decode_in_c, _fast, flat_meta
from stone.meta import decode_meta_fields, encode_meta

metas = meta_strategy()

_HEAD = struct.Struct(">IHBB")

needs_c = pytest.mark.skipif(
    _decode_in_c is None,
    reason="stone._flatc was not built (no C compiler or Python headers when stone was installed)",
)


def in_c(data: bytes | memoryview, count: int) -> FlatMeta | None:
    assert _decode_in_c is not None
    fields = _decode_in_c(data, count)
    return None if fields is None else FlatMeta._make(fields)


def by_records(data: bytes, count: int) -> FlatMeta | str:
    """What the record decoder makes of a payload: its columns, or its error."""
    try:
        return FlatMeta.of(Meta.from_fields(decode_meta_fields(data, count)))
    except StoneError as err:
        return f"{type(err).__name__}: {err}"


def by_flat(data: bytes, count: int) -> FlatMeta | str:
    try:
        return flat_meta(data, count)
    except StoneError as err:
        return f"{type(err).__name__}: {err}"


@given(metas)
def test_what_writers_make_takes_the_fast_loop_and_matches_the_records(meta: Meta) -> None:
    body, count = encode_meta(meta.records())
    expected = by_records(body, count)
    assert _fast(body, count) == expected
    assert flat_meta(memoryview(body), count) == expected


# Records as any writer could make them, the strange included: every tag and primitive
# (known or not), values of any bytes, strings with several NULs or none, relations of
# unknown kinds or empty names.
_tags = st.sampled_from([*MetaTag, 0, 21, 300]).map(int)
_primitives = st.sampled_from([*Primitive, 0, 12]).map(int)
_values = st.one_of(
    st.binary(max_size=12),
    texts.map(lambda text: text.encode() + b"\x00"),
    st.tuples(st.integers(0, 12), texts).map(lambda kt: bytes([kt[0]]) + kt[1].encode() + b"\0"),
    u64s.map(lambda value: value.to_bytes(8, "big")),
    st.sampled_from([b"", b"\x00", b"\x00\x00", b"\x01\x00", b"\xff\xfe\x00", b"a\x00b\x00"]),
)
_raw_records = st.lists(st.tuples(_tags, _primitives, _values), max_size=12)


@st.composite
def any_payloads(draw: st.DrawFn) -> tuple[bytes, int]:
    """A payload and its record count: a writer's records with some dropped, raw records of
    any kind spliced in, the count off by a little, the end cut."""
    meta = draw(metas)
    dropped = draw(st.sets(st.integers(0, 20), max_size=3))
    extra = draw(_raw_records)
    at = draw(st.integers(0, 30))
    records = [r for n, r in enumerate(meta.records()) if n not in dropped]
    body, count = encode_meta(records[:at])
    tail = b"".join(_HEAD.pack(len(raw), tag, prim, 0) + raw for tag, prim, raw in extra)
    rest, rest_count = encode_meta(records[at:])
    data = body + tail + rest
    cut = draw(st.integers(-3, 0))
    data = data[: len(data) + cut] if cut else data
    return data, max(0, count + len(extra) + rest_count + draw(st.integers(-2, 2)))


@settings(max_examples=250)
@given(any_payloads())
def test_any_payload_gives_the_same_columns_or_the_same_error(payload: tuple[bytes, int]) -> None:
    assert by_flat(*payload) == by_records(*payload)


@needs_c
@settings(max_examples=400)
@given(any_payloads())
def test_the_loop_in_c_gives_what_the_loop_in_python_gives(payload: tuple[bytes, int]) -> None:
    data, count = payload
    assert in_c(data, count) == _fast(data, count)
    assert in_c(memoryview(data), count) == _fast(data, count)


@needs_c
@pytest.mark.parametrize(
    "value",
    [b"", b"\x00", b"\x00\x00", b"a\x00b\x00", b"\xff\x00", b"\xc3\xa9t\xc3\xa9\x00", b"\x00x\x00"],
)
@pytest.mark.parametrize("kind", [0, 1, 8, 9, 0x41, 0xC3])
def test_the_loop_in_c_takes_strings_and_relations_as_python_does(value: bytes, kind: int) -> None:
    base = list(Meta("p", "1", 1).records())
    for tag, primitive, raw in (
        (MetaTag.SUMMARY, Primitive.STRING, value),
        (MetaTag.LICENSE, Primitive.STRING, value),
        (MetaTag.DEPENDS, Primitive.DEPENDENCY, bytes([kind]) + value),
        (MetaTag.PROVIDES, Primitive.PROVIDER, bytes([kind]) + value),
        (MetaTag.CONFLICTS, Primitive.DEPENDENCY, bytes([kind]) + value),
        (MetaTag.RELEASE, Primitive.UINT64, value.ljust(8, b"\x01")[:8]),
    ):
        body, count = encode_meta(base)
        data = body + _HEAD.pack(len(raw), tag, primitive, 0) + raw
        assert in_c(data, count + 1) == _fast(data, count + 1)


@given(metas, st.sets(st.sampled_from(MetaTag)))
def test_payloads_missing_some_records_match_the_records(meta: Meta, dropped: set[MetaTag]) -> None:
    body, count = encode_meta(r for r in meta.records() if r.tag not in dropped)
    assert by_flat(body, count) == by_records(body, count)


def test_a_relation_of_a_newer_kind_is_left_out_as_the_record_decoder_does() -> None:
    body, count = encode_meta(
        [
            *Meta("p", "1", 1, depends=(Dependency(RelationKind.SONAME, "libc.so.6"),)).records(),
            MetaRecord(MetaTag.DEPENDS, Primitive.DEPENDENCY, b"\x63future\x00"),
        ]
    )
    assert _fast(body, count) is None
    assert flat_meta(body, count).depends == ("soname(libc.so.6)",)


def test_a_malformed_payload_is_the_record_decoders_error() -> None:
    body, count = encode_meta(Meta("p", "1", 1).records())
    with pytest.raises(StoneError, match="overruns the payload body"):
        flat_meta(body[:-3], count)
    with pytest.raises(StoneError, match="meta has no version record"):
        flat_meta(*encode_meta([MetaRecord(MetaTag.NAME, Primitive.STRING, "p")]))


def _real_meta_payloads(corpus: Path) -> list[tuple[bytes, int]]:
    paths = [
        *sorted(corpus.glob("recipes/*/*/manifest.x86_64.bin")),
        *sorted(corpus.glob("stones/*.stone")),
    ]
    payloads = []
    for path in paths:
        with StoneReader(path) as reader:
            for ref in reader.of_kind(PayloadKind.META):
                payloads.append((bytes(reader._plain(ref)), ref.header.num_records))
    return payloads


def test_every_real_meta_payload_takes_the_fast_loop_and_matches(corpus: Path) -> None:
    payloads = _real_meta_payloads(corpus)
    assert len(payloads) > 1442
    for data, count in payloads:
        assert _fast(data, count) == by_records(data, count)
        if _decode_in_c is not None:
            assert in_c(data, count) == by_records(data, count)


def test_the_reader_yields_the_flat_columns_of_every_package(tmp_path: Path) -> None:
    from stone import write_index

    packages = [
        Meta(
            f"p{n}",
            "1.0",
            n,
            licenses=("MIT",),
            uri=f"p{n}.stone",
            hash=f"{n:064x}",
            download_size=1,
        )
        for n in range(3)
    ]
    index = tmp_path / "stone.index"
    with open(index, "wb") as out:
        write_index(out, packages)
    with StoneReader(index) as reader:
        assert list(reader.iter_flat_metas()) == [FlatMeta.of(meta) for meta in reader.metas()]


def test_a_run_of_payloads_is_read_alike_from_forked_processes_at_once(tmp_path: Path) -> None:
    from stone import write_index

    noise = random.Random(5)
    packages = [
        Meta(
            f"p{n}",
            "1.0",
            n,
            description=noise.randbytes(3000).hex(),
            uri=f"p{n}.stone",
            hash=f"{n:064x}",
            download_size=n,
        )
        for n in range(200)
    ]
    index = tmp_path / "stone.index"
    with open(index, "wb") as out:
        write_index(out, packages)
    with StoneReader(index) as reader:
        whole = [(stored, flat()) for stored, flat in reader.iter_meta_payloads()]
        assert sorted(flat for _, flat in whole) == sorted(FlatMeta.of(meta) for meta in packages)
        stored = [s for s, _ in whole]

        def run(start: int, stop: int | None = None) -> list[bytes]:
            return [s for s, _ in reader.iter_meta_payloads(start, stop)]

        assert run(10, 25) == stored[10:25]
        # A child and this process read through the one reader, and its one open file, at
        # the same time, over and over: neither moves the other's place in the file.
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_end)
                for _ in range(20):
                    if run(100) != stored[100:]:
                        break
                else:
                    os.write(write_end, b"alike")
            finally:
                os._exit(0)
        os.close(write_end)
        try:
            for _ in range(20):
                assert run(0, 100) == stored[:100]
        finally:
            with os.fdopen(read_end, "rb") as answer:
                child = answer.read()
            os.waitpid(pid, 0)
        assert child == b"alike"

"""Size limits and the bounded decoder: a payload beyond its kind's limit is refused at open
with one line naming file and payload; decompression never outgrows the declared size; any
body, however hostile, ends in the plain bytes or a StoneError."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import xxhash
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from stone_bombs import GiB, assert_refused_in_one_line, bomb, run_limited

from stone import (
    Compression,
    PayloadHeader,
    PayloadKind,
    SizeLimitError,
    StoneError,
    StoneReader,
)
from stone.content import decompress_body
from stone.payload import MAX_PLAIN_SIZE, MAX_RECORDS, max_stored_size, within_limits

from .corrupt import join, plain, split, with_plain

META, LAYOUT, INDEX, CONTENT = 0, 1, 2, 3


@pytest.fixture(scope="module")
def pineapple(corpus: Path) -> bytes:
    return (corpus / "stones/pineapple-1-1-1-x86_64.stone").read_bytes()


def refused_at_open(data: bytes, *words: str) -> str:
    with pytest.raises(SizeLimitError) as caught:
        StoneReader(io.BytesIO(data), name="big.stone")
    message = str(caught.value)
    assert message.startswith("big.stone: payload ")
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize(
    ("position", "kind"),
    [(META, PayloadKind.META), (LAYOUT, PayloadKind.LAYOUT), (INDEX, PayloadKind.INDEX)],
)
def test_a_payload_beyond_its_limit_is_refused_before_reading(
    pineapple: bytes, position: int, kind: PayloadKind
) -> None:
    head, parts = split(pineapple)
    parts[position] = with_plain(
        parts[position], plain(parts[position]), plain_size=MAX_PLAIN_SIZE[kind] + 1
    )
    refused_at_open(join(head, parts), f"({kind.text})", "exceeds the limit", "MiB")
    head, parts = split(pineapple)
    parts[position] = with_plain(
        parts[position],
        plain(parts[position]),
        plain_size=MAX_PLAIN_SIZE[kind],
        num_records=MAX_RECORDS[kind] + 1,
    )
    refused_at_open(join(head, parts), f"{MAX_RECORDS[kind] + 1} records exceed the limit")


def test_content_beyond_its_limit_is_refused(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    parts[CONTENT] = with_plain(
        parts[CONTENT], plain(parts[CONTENT]), plain_size=MAX_PLAIN_SIZE[PayloadKind.CONTENT] + 1
    )
    refused_at_open(join(head, parts), "(content)", "32 GiB")


def test_a_stored_body_far_larger_than_any_plain_is_refused(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    header = parts[META].header
    parts[META].header = PayloadHeader(
        stored_size=1 << 40,
        plain_size=header.plain_size,
        checksum=header.checksum,
        num_records=header.num_records,
        kind_code=header.kind_code,
        compression_code=header.compression_code,
    )
    # The file is shorter than the body claims: that is found first, also without reading it.
    with pytest.raises(StoneError, match="runs past the end of the file"):
        StoneReader(io.BytesIO(join(head, parts)), name="big.stone")


def test_real_packages_sit_far_below_every_limit(corpus: Path) -> None:
    for path in [*corpus.glob("stones/*.stone"), *corpus.glob("recipes/*/*/manifest.*.bin")]:
        with StoneReader(path) as reader:
            for ref in reader.payloads:
                kind = ref.header.kind
                assert kind is not None
                assert ref.header.plain_size * 64 < MAX_PLAIN_SIZE[kind], path
                if kind is not PayloadKind.CONTENT:
                    assert ref.header.num_records * 64 < MAX_RECORDS[kind], path


def _header(body: bytes, plain_size: int, compression: Compression) -> PayloadHeader:
    return PayloadHeader(
        stored_size=len(body),
        plain_size=plain_size,
        checksum=xxhash.xxh3_64_intdigest(body),
        num_records=0,
        kind_code=PayloadKind.META,
        compression_code=compression,
    )


@st.composite
def _frames(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """Plain bytes and a zstd body for them: one or several frames, with or without sizes."""
    pieces = draw(st.lists(st.binary(max_size=3000), min_size=1, max_size=4))
    sized = draw(st.booleans())
    compressor = zstandard.ZstdCompressor(level=1, write_content_size=sized)
    return b"".join(pieces), b"".join(compressor.compress(piece) for piece in pieces)


@settings(max_examples=150, deadline=None)
@given(_frames(), st.integers(min_value=-64, max_value=64))
def test_decoder_yields_exactly_the_declared_bytes_or_a_clean_error(
    frames: tuple[bytes, bytes], skew: int
) -> None:
    expected, body = frames
    declared = max(0, len(expected) + skew)
    header = _header(body, declared, Compression.ZSTD)
    try:
        result = decompress_body(header, body)
    except StoneError:
        assert declared != len(expected)
        return
    assert declared == len(expected)
    assert bytes(result) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=600),
    st.integers(min_value=0, max_value=1 << 16),
    st.sampled_from(list(Compression)),
)
def test_decoder_on_arbitrary_bytes_only_raises_stone_errors(
    body: bytes, declared: int, compression: Compression
) -> None:
    # A zstd magic in front makes most examples reach the frame decoder proper.
    for candidate in (body, bytes.fromhex("28b52ffd") + body):
        header = _header(candidate, declared, compression)
        try:
            result = decompress_body(header, candidate)
        except StoneError:
            continue
        assert len(result) == declared


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=4096), st.integers(min_value=1, max_value=1 << 22))
def test_a_frame_larger_than_declared_stops_one_byte_past_it(declared: int, extra: int) -> None:
    body = zstandard.ZstdCompressor(level=1, write_content_size=False).compress(
        bytes(declared + extra)
    )
    with pytest.raises(StoneError, match="more than its declared"):
        decompress_body(_header(body, declared, Compression.ZSTD), body)


@pytest.mark.parametrize(
    "kind", [PayloadKind.META, PayloadKind.LAYOUT, PayloadKind.INDEX], ids=lambda k: k.text
)
def test_stone_inspect_of_a_1_gib_bomb_is_one_line_under_a_1_gib_limit(
    pineapple: bytes, tmp_path: Path, kind: PayloadKind
) -> None:
    target = tmp_path / "bomb.stone"
    target.write_bytes(bomb(pineapple, kind, GiB))
    assert target.stat().st_size < 64 << 10
    result = run_limited([str(Path(sys.executable).parent / "stone"), "inspect", str(target)])
    assert_refused_in_one_line(result, target, kind)


# Sizes and counts around each kind's limits, where the two checks could part.
_edges = (
    st.sampled_from([0, 1, 7, 8, 9, 31, 32, 33])
    | st.sampled_from(
        sorted(
            {n + d for n in MAX_PLAIN_SIZE.values() for d in (-1, 0, 1)}
            | {max_stored_size(n) + d for n in MAX_PLAIN_SIZE.values() for d in (-1, 0, 1)}
            | {n + d for n in MAX_RECORDS.values() for d in (-1, 0, 1)}
        )
    )
    | st.integers(0, 1 << 64)
)


@settings(max_examples=500)
@given(st.integers(0, 7), _edges, _edges, _edges)
def test_the_scan_check_passes_exactly_what_limit_problem_passes(
    kind: int, stored: int, plain_size: int, records: int
) -> None:
    header = PayloadHeader(
        stored_size=stored,
        plain_size=plain_size,
        checksum=0,
        num_records=records,
        kind_code=kind,
        compression_code=Compression.ZSTD,
    )
    assert within_limits(kind, stored, plain_size, records) == (header.limit_problem() is None)

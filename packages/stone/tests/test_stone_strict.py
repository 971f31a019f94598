"""Spec §14: every malformed input is rejected with a StoneError naming file, payload, problem."""

from __future__ import annotations

import contextlib
import io
import struct
import tracemalloc
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stone import (
    ChecksumMismatchError,
    CompressionError,
    CorruptHeaderError,
    DigestMismatchError,
    FileType,
    IndexRangeError,
    InvalidMagicError,
    MemorySink,
    PlainSizeMismatchError,
    RecordError,
    SizeLimitError,
    StoneError,
    StoneReader,
    TruncatedError,
    UnexpectedFileTypeError,
    UnsafePathError,
    UnsupportedVersionError,
    is_safe_path,
    validate_path,
)

from .corrupt import join, plain, split, with_body, with_plain

META, LAYOUT, INDEX, CONTENT = 0, 1, 2, 3


@pytest.fixture(scope="module")
def pineapple(corpus: Path) -> bytes:
    return (corpus / "stones/pineapple-1-1-1-x86_64.stone").read_bytes()


@pytest.fixture(scope="module")
def bash_completion(corpus: Path) -> bytes:
    return (corpus / "stones/bash-completion-2.11-1-1-x86_64.stone").read_bytes()


def read_all(data: bytes, name: str = "bad.stone") -> None:
    with StoneReader(io.BytesIO(data), name=name) as reader:
        reader.metas()
        reader.layout()
        reader.index()
        reader.attributes()
        reader.unpack_content(MemorySink())


def rejects(data: bytes, error: type[StoneError], *words: str) -> StoneError:
    with pytest.raises(error) as caught:
        read_all(data)
    message = str(caught.value)
    assert message.startswith("bad.stone: "), message
    for word in words:
        assert word in message, message
    return caught.value


def test_short_file_and_bad_magic(pineapple: bytes) -> None:
    rejects(pineapple[:20], TruncatedError, "header truncated")
    rejects(b"", TruncatedError)
    rejects(b"PK\x03\x04" + pineapple[4:], InvalidMagicError, "bad magic")
    rejects(b"GIF8", InvalidMagicError)


def test_unknown_version(pineapple: bytes) -> None:
    rejects(
        pineapple[:28] + struct.pack(">I", 2) + pineapple[32:], UnsupportedVersionError, "version 2"
    )


def test_corrupt_integrity_bytes(pineapple: bytes) -> None:
    rejects(pineapple[:10] + b"\x09" + pineapple[11:], CorruptHeaderError, "corrupt header")


def test_unknown_file_type_is_read_but_refused_when_a_type_is_expected(pineapple: bytes) -> None:
    data = pineapple[:27] + b"\x09" + pineapple[28:]
    read_all(data)
    with StoneReader(io.BytesIO(data), name="bad.stone") as reader:
        assert reader.file_type is None
        with pytest.raises(
            UnexpectedFileTypeError, match=r"bad.stone: archive is unknown .9., expected binary"
        ):
            reader.expect(FileType.BINARY)


def test_truncated_payload_header_and_missing_payloads(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    cut = len(join(head, parts[:2])) + 10
    rejects(pineapple[:cut], TruncatedError, "inside a payload header")
    rejects(join(head, parts[:3]), TruncatedError, "after 3 of 4 payloads")
    more = head[:4] + struct.pack(">H", 9) + head[6:]
    rejects(join(more, parts), TruncatedError, "after 4 of 9 payloads")


def test_truncated_body(bash_completion: bytes) -> None:
    rejects(bash_completion[:-100], TruncatedError, "payload 3 (content)", "runs past the end")


def test_trailing_bytes(pineapple: bytes) -> None:
    rejects(pineapple + b"junk", TruncatedError, "4 unexpected bytes")


def test_checksum_mismatch_structured(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    parts[LAYOUT].header = type(parts[LAYOUT].header)(
        **{**parts[LAYOUT].header.__dict__, "checksum": parts[LAYOUT].header.checksum ^ 1}
    )
    rejects(join(head, parts), ChecksumMismatchError, "payload 1 (layout)", "checksum mismatch")


def test_checksum_mismatch_content(bash_completion: bytes) -> None:
    head, parts = split(bash_completion)
    body = bytearray(parts[CONTENT].body)
    body[5000] ^= 0xFF
    parts[CONTENT].body = bytes(body)
    rejects(join(head, parts), ChecksumMismatchError, "payload 3 (content)")


def test_plain_size_mismatch(pineapple: bytes, bash_completion: bytes) -> None:
    head, parts = split(pineapple)
    parts[META] = with_plain(parts[META], plain(parts[META]), plain_size=300)
    rejects(join(head, parts), PlainSizeMismatchError, "payload 0 (meta)", "declared 300")
    head, parts = split(bash_completion)
    parts[CONTENT] = with_body(parts[CONTENT], parts[CONTENT].body, plain_size=900_000)
    rejects(join(head, parts), PlainSizeMismatchError, "872279 bytes, declared 900000")
    head, parts = split(pineapple)
    parts[CONTENT] = with_plain(parts[CONTENT], b"surplus", plain_size=0)
    rejects(join(head, parts), PlainSizeMismatchError, "more than its declared 0 bytes")


def test_decompression_bomb_stops_at_the_declared_size(pineapple: bytes) -> None:
    compressor = zstandard.ZstdCompressor(level=1)
    chunks = compressor.compressobj()
    body = b"".join(chunks.compress(bytes(1 << 24)) for _ in range(64)) + chunks.flush()
    head, parts = split(pineapple)
    parts[CONTENT] = with_body(parts[CONTENT], body, plain_size=10)
    tracemalloc.start()
    try:
        rejects(join(head, parts), PlainSizeMismatchError)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"a 1 GiB bomb declared as 10 bytes cost {peak} bytes"


def test_absurd_record_count_and_plain_size(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    parts[LAYOUT] = with_plain(parts[LAYOUT], plain(parts[LAYOUT]), num_records=0xFFFFFFFF)
    rejects(join(head, parts), SizeLimitError, "exceed the limit")
    head, parts = split(pineapple)
    parts[LAYOUT] = with_plain(parts[LAYOUT], plain(parts[LAYOUT]), num_records=1000)
    rejects(join(head, parts), SizeLimitError, "cannot fit")
    head, parts = split(pineapple)
    parts[META] = with_plain(parts[META], plain(parts[META]), plain_size=1 << 40)
    rejects(join(head, parts), SizeLimitError, "exceeds the limit")


def test_window_larger_than_allowed(pineapple: bytes) -> None:
    # A frame header asking for a 4 GiB window (window descriptor exponent 22 + 10 = 32).
    frame = bytes.fromhex("28b52ffd") + bytes([0x00, (32 - 10) << 3]) + bytes.fromhex("010000")
    head, parts = split(pineapple)
    parts[META] = with_body(parts[META], frame, plain_size=215)
    rejects(join(head, parts), CompressionError, "payload 0 (meta)", "zstd")


def test_record_overrun_and_leftover_bytes(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    parts[META] = with_plain(parts[META], plain(parts[META])[:-3])
    rejects(join(head, parts), RecordError, "meta record 9 overruns")
    head, parts = split(pineapple)
    parts[LAYOUT] = with_plain(parts[LAYOUT], plain(parts[LAYOUT]) + b"\x00" * 40)
    rejects(join(head, parts), RecordError, "40 bytes left over")
    head, parts = split(pineapple)
    parts[META] = with_plain(parts[META], plain(parts[META]), num_records=11)
    rejects(join(head, parts), RecordError, "meta record 10 overruns")


def test_integer_with_wrong_length(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    records = bytearray(plain(parts[META]))
    # Record layout: name, version, release (u64) ... patch release's declared length to 4.
    offset = 0
    for _ in range(2):
        offset += 8 + struct.unpack_from(">I", records, offset)[0]
    struct.pack_into(">I", records, offset, 4)
    parts[META] = with_plain(parts[META], bytes(records))
    rejects(join(head, parts), RecordError, "integer of length 4")


def test_regular_file_source_not_sixteen_bytes(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    record = bytearray(plain(parts[LAYOUT]))
    struct.pack_into(">H", record, 16, 15)
    parts[LAYOUT] = with_plain(parts[LAYOUT], bytes(record[:32] + record[33:]))
    rejects(join(head, parts), RecordError, "digest of 15 bytes")


def test_invalid_utf8(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    records = plain(parts[META]).replace(b"pineapple", b"pine\xffpple", 1)
    parts[META] = with_plain(parts[META], records)
    rejects(join(head, parts), RecordError, "not valid UTF-8")


def _index_part(parts: list, start: int, end: int, digest: int):  # type: ignore[no-untyped-def]
    record = struct.pack(">QQQQ", start, end, digest >> 64, digest & ((1 << 64) - 1))
    return with_plain(parts[INDEX], record)


def test_index_range_outside_content_and_inverted(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    digest = 0x99AA06D3014798D86001C324468D497F
    parts[INDEX] = _index_part(parts, 0, 5, digest)
    rejects(join(head, parts), IndexRangeError, "outside the 0-byte content")
    parts[INDEX] = _index_part(parts, 3, 1, digest)
    rejects(join(head, parts), IndexRangeError, "starts after it ends")


def test_digest_mismatch(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    parts[INDEX] = _index_part(parts, 0, 0, 0x1234)
    rejects(join(head, parts), DigestMismatchError, "hashes to 99aa06d3")


def test_overlapping_index_ranges(bash_completion: bytes) -> None:
    head, parts = split(bash_completion)
    index = bytearray(plain(parts[INDEX]))
    struct.pack_into(">Q", index, 32, 100)  # second entry starts inside the first
    parts[INDEX] = with_plain(parts[INDEX], bytes(index))
    rejects(join(head, parts), IndexRangeError, "overlaps")


def test_unknown_payload_kind_is_skipped(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    extra = with_body(parts[META], b"opaque", plain_size=6, kind_code=42, compression_code=7)
    data = join(head[:4] + struct.pack(">H", 5) + head[6:], [*parts, extra])
    read_all(data)
    with StoneReader(io.BytesIO(data), name="x") as reader:
        assert reader.payloads[-1].label == "payload 4 (kind 42)"


def test_unknown_compression_on_a_known_kind(pineapple: bytes) -> None:
    head, parts = split(pineapple)
    parts[LAYOUT] = with_body(parts[LAYOUT], parts[LAYOUT].body, compression_code=9)
    rejects(join(head, parts), RecordError, "unknown compression 9")


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (b"", "empty layout path"),
        (b"share/a\x00b", "contains NUL"),
        (b"/etc/passwd", "is absolute"),
        (b"share/../../etc/shadow", "'..' component"),
        (b"share/./x", "'.' or '..'"),
        (b"share//x", "empty, '.'"),
        (b"..", "'..' component"),
    ],
)
def test_unsafe_layout_paths(pineapple: bytes, target: bytes, problem: str) -> None:
    head, parts = split(pineapple)
    record = bytearray(plain(parts[LAYOUT])[:48])
    struct.pack_into(">H", record, 18, len(target))
    parts[LAYOUT] = with_plain(parts[LAYOUT], bytes(record) + target)
    rejects(join(head, parts), UnsafePathError, "payload 1 (layout)", problem)


@settings(max_examples=500)
@given(st.lists(st.sampled_from(["", ".", "..", "a", "..a", ".b", "\x00", "c/"]), max_size=5))
def test_is_safe_path_is_the_component_rule(parts: list[str]) -> None:
    path = "/".join(parts)
    by_components = (
        bool(path)
        and "\x00" not in path
        and not path.startswith("/")
        and all(part not in ("", ".", "..") for part in path.split("/"))
    )
    assert is_safe_path(path) == by_components
    if by_components:
        validate_path(path)
    else:
        with pytest.raises(UnsafePathError):
            validate_path(path)


@settings(
    max_examples=300,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutations_raise_only_stone_errors(
    pineapple: bytes, bash_completion: bytes, data: st.DataObject
) -> None:
    original = data.draw(
        st.sampled_from([pineapple, bash_completion[:24000] + b"", bash_completion])
    )
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "set"]))
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "flip" and mutated:
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "truncate":
            del mutated[position:]
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        elif mutated:
            mutated[position] = data.draw(st.integers(0, 255))
    tracemalloc.start()
    try:
        read_all(bytes(mutated))
    except StoneError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 64 << 20


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_stone_errors(noise: bytes) -> None:
    with contextlib.suppress(StoneError):
        read_all(b"\x00mos" + noise)

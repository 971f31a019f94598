"""Decompression bombs: a real package with one structured payload replaced by a small zstd
frame that honestly decompresses to far more than any package holds, and a way to run a
command under an address-space limit that such a bomb would break through."""

from __future__ import annotations

import io
import resource
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import xxhash
import zstandard

from stone import PayloadKind, StoneReader

GiB = 1 << 30
# Headroom for the interpreter, its libraries and moss's threads, far below what decoding a
# 1 GiB payload costs (twice that, before the records are built).
ADDRESS_SPACE_LIMIT = GiB


@cache
def zero_frame(plain_size: int) -> bytes:
    """One zstd frame of `plain_size` zero bytes, stating its size: about 32 KB for 1 GiB."""
    compressor = zstandard.ZstdCompressor(level=1).compressobj(size=plain_size)
    chunk = bytes(1 << 24)
    whole, rest = divmod(plain_size, len(chunk))
    body = b"".join(compressor.compress(chunk) for _ in range(whole))
    return body + compressor.compress(chunk[:rest]) + compressor.flush()


def bomb(package: bytes, kind: PayloadKind, plain_size: int = GiB) -> bytes:
    """`package` with its first payload of `kind` replaced by `plain_size` zero bytes,
    declared honestly: sizes, checksum and as many records as the bytes can hold."""
    body = zero_frame(plain_size)
    min_record = {PayloadKind.META: 8, PayloadKind.LAYOUT: 32, PayloadKind.INDEX: 32}
    with StoneReader(io.BytesIO(package), name="<bomb>") as reader:
        [ref, *_] = reader.of_kind(kind)
        header = ref.header
    start = ref.offset - 32
    new_header = type(header)(
        stored_size=len(body),
        plain_size=plain_size,
        checksum=xxhash.xxh3_64_intdigest(body),
        num_records=plain_size // min_record.get(kind, plain_size),
        kind_code=header.kind_code,
        compression_code=header.compression_code,
    )
    return package[:start] + new_header.encode() + body + package[ref.offset + header.stored_size :]


def run_limited(
    argv: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a command with its address space held to `ADDRESS_SPACE_LIMIT`."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))

    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        preexec_fn=limit,
        timeout=timeout,
        check=False,
    )


def assert_refused_in_one_line(
    result: subprocess.CompletedProcess[str], target: Path, kind: PayloadKind
) -> None:
    """The command failed with one line naming the file, the payload and the limit, and no
    traceback or MemoryError."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(target) in lines[0] and f"({kind.text})" in lines[0]
    assert "exceeds the limit" in lines[0]

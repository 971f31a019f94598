"""Reading an archive: headers at open, payload bodies decoded on first use."""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, NoReturn, TypeVar

import xxhash

from .attributes import Attribute, decode_attributes
from .content import NewHasher, check_checksum, decompress_body, stream_content
from .errors import (
    RecordError,
    SizeLimitError,
    StoneError,
    TruncatedError,
    UnexpectedFileTypeError,
)
from .flat import FlatMeta, flat_meta
from .header import HEADER_SIZE, FileType, Header
from .index import IndexEntry, decode_index
from .layout import LayoutEntry, decode_layout
from .meta import Meta, MetaRecord, decode_meta, decode_meta_fields
from .payload import (
    PAYLOAD_HEADER_SIZE,
    PayloadHeader,
    PayloadKind,
    header_fields,
    within_limits,
)
from .sinks import ContentSink, NullSink

_T = TypeVar("_T")
# How much of the file the header scan reads at a time.
_SCAN_BLOCK = 1 << 20
_Body = TypeVar("_Body", bytes, memoryview)


@dataclass(frozen=True)
class PayloadRef:
    """Where a payload sits in the file: its position among the payloads and its body offset."""

    number: int
    offset: int
    header: PayloadHeader

    @property
    def label(self) -> str:
        kind = self.header.kind
        return f"payload {self.number} ({kind.text if kind else f'kind {self.header.kind_code}'})"


class StoneReader:
    """An open `.stone` archive.

    Opening reads the container header and every payload header, so truncation, a wrong
    payload count and a payload beyond the size limits of its kind (`payload.MAX_PLAIN_SIZE`,
    `payload.MAX_RECORDS`) are found at once. Bodies are read, checked and decoded only when
    asked for.
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, *, name: str | None = None):
        if isinstance(source, str | os.PathLike):
            self.name = name or os.fspath(source)
            try:
                self._file: BinaryIO = open(source, "rb")  # noqa: SIM115 - closed by close()
            except OSError as err:
                raise StoneError(err.strerror or str(err), file=self.name) from None
            self._owned = True
            # Bodies of a file opened here are read by position (`os.pread`), which moves no
            # file offset: forked processes sharing this reader can read it at once.
            self._fd: int | None = self._file.fileno()
        else:
            self.name = name or str(getattr(source, "name", "<stream>"))
            self._file, self._owned = source, False
            self._fd = None
        self._decoded: dict[int, Any] = {}
        try:
            self.header = self._scan()
        except StoneError as err:
            self.close()
            raise err.in_context(file=self.name) from None
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> StoneReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self._file.close()

    @property
    def file_type(self) -> FileType | None:
        return self.header.file_type

    def expect(self, *types: FileType) -> StoneReader:
        """Fail unless the archive is one of `types`."""
        if self.file_type not in types:
            found = (
                self.file_type.text if self.file_type else f"unknown ({self.header.file_type_code})"
            )
            wanted = " or ".join(t.text for t in types)
            raise UnexpectedFileTypeError(f"archive is {found}, expected {wanted}", file=self.name)
        return self

    def _scan(self) -> Header:
        """Read the container header and check every payload header, keeping each one's
        fields and body offset (`_heads`, `_offsets`) and the payloads of each kind: no object
        per payload until one is asked for, so opening an index of 65,535 stays cheap."""
        self._file.seek(0, io.SEEK_END)
        size = self._file.tell()
        self._file.seek(0)
        header = Header.decode(self._file.read(HEADER_SIZE))
        heads: list[tuple[int, ...]] = []
        offsets: list[int] = []
        by_kind: dict[int, list[int]] = {}
        # Headers are read a block at a time: an index's are about 300 bytes apart.
        block, block_at = b"", 0
        offset = HEADER_SIZE
        for number in range(header.num_payloads):
            at = offset - block_at
            if at + PAYLOAD_HEADER_SIZE > len(block):
                self._file.seek(offset)
                block, block_at, at = self._file.read(_SCAN_BLOCK), offset, 0
                if len(block) < PAYLOAD_HEADER_SIZE:
                    raise TruncatedError(
                        f"file ends after {number} of {header.num_payloads} payloads"
                        + (" (inside a payload header)" if block else "")
                    )
            fields = header_fields(block, at)
            stored, plain, _, records, _, kind, _ = fields
            offset += PAYLOAD_HEADER_SIZE
            if offset + stored > size or not within_limits(kind, stored, plain, records):
                self._refuse(number, offset, fields, size)
            heads.append(fields)
            offsets.append(offset)
            by_kind.setdefault(kind, []).append(number)
            offset += stored
        if offset != size:
            raise TruncatedError(f"{size - offset} unexpected bytes after the last payload")
        self._heads, self._offsets, self._by_kind = heads, offsets, by_kind
        return header

    def _refuse(self, number: int, offset: int, fields: tuple[int, ...], size: int) -> NoReturn:
        ref = PayloadRef(number, offset, PayloadHeader.of_fields(fields))
        if offset + ref.header.stored_size > size:
            raise TruncatedError(
                f"body of {ref.header.stored_size} bytes runs past the end of the file",
                payload=ref.label,
            )
        problem = ref.header.limit_problem()
        assert problem is not None, "within_limits refused what limit_problem passes"
        raise SizeLimitError(problem, payload=ref.label)

    def _ref(self, number: int) -> PayloadRef:
        return PayloadRef(
            number, self._offsets[number], PayloadHeader.of_fields(self._heads[number])
        )

    @functools.cached_property
    def payloads(self) -> list[PayloadRef]:
        """Every payload, in file order."""
        return [self._ref(number) for number in range(len(self._offsets))]

    def of_kind(self, kind: PayloadKind) -> list[PayloadRef]:
        return [self._ref(number) for number in self._by_kind.get(kind, ())]

    def count(self, kind: PayloadKind) -> int:
        """How many payloads of `kind` the archive holds (without a `PayloadRef` each)."""
        return len(self._by_kind.get(kind, ()))

    def _decode(self, ref: PayloadRef, decoder: Callable[[memoryview, int], _T]) -> _T:
        if ref.number not in self._decoded:
            try:
                plain = memoryview(self._plain(ref))
                self._decoded[ref.number] = decoder(plain, ref.header.num_records)
            except StoneError as err:
                raise err.in_context(file=self.name, payload=ref.label) from None
        result: _T = self._decoded[ref.number]
        return result

    def _plain(self, ref: PayloadRef) -> bytes | bytearray:
        self._file.seek(ref.offset)
        return self._decompress(ref, self._checked(ref, self._file.read(ref.header.stored_size)))

    def _stored(self, ref: PayloadRef) -> bytes:
        """The payload as stored: its header, then its body."""
        start, size = ref.offset - PAYLOAD_HEADER_SIZE, PAYLOAD_HEADER_SIZE + ref.header.stored_size
        if self._fd is None:
            self._file.seek(start)
            stored = self._file.read(size)
        else:
            stored = os.pread(self._fd, size, start)
        self._checked(ref, memoryview(stored)[PAYLOAD_HEADER_SIZE:])
        return stored

    def _checked(self, ref: PayloadRef, body: _Body) -> _Body:
        if len(body) != ref.header.stored_size:
            raise TruncatedError("body ends early")
        check_checksum(ref.header, xxhash.xxh3_64_intdigest(body))
        return body

    def _decompress(self, ref: PayloadRef, body: bytes) -> bytes | bytearray:
        header = ref.header
        if header.compression is None:
            raise RecordError(f"unknown compression {header.compression_code}")
        return decompress_body(header, body)

    def meta_records(self, ref: PayloadRef | None = None) -> list[MetaRecord]:
        ref = ref or self._first(PayloadKind.META)
        return self._decode(ref, decode_meta)

    def meta(self, ref: PayloadRef | None = None) -> Meta:
        """The package metadata: the first Meta payload unless another is named."""
        return self._meta(ref or self._first(PayloadKind.META))

    def metas(self) -> list[Meta]:
        """Every Meta payload: one per package in repository indexes and build manifests."""
        return list(self.iter_metas())

    def iter_metas(self) -> Iterator[Meta]:
        """Every Meta payload's Meta, one at a time and kept nowhere: an index of 65,535
        packages is read in the memory of one."""
        for ref in self.of_kind(PayloadKind.META):
            yield self._meta(ref)

    def iter_flat_metas(self) -> Iterator[FlatMeta]:
        """Every Meta payload as flat columns (see `stone.flat`), one at a time: what a
        repository refresh stores, without a `Meta` each."""
        for _, flat in self.iter_meta_payloads():
            yield flat()

    def iter_meta_payloads(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[bytes, Callable[[], FlatMeta]]]:
        """Every Meta payload (or those from the `start`th to before the `stop`th) as stored
        (its header and body, checksum checked), with a function decoding it to flat columns
        (`iter_flat_metas`): a caller that knows a payload by its bytes need not decompress
        or decode it. An archive opened by path may be read so from forked processes at once."""
        for number in self._by_kind.get(PayloadKind.META, [])[start:stop]:
            ref = self._ref(number)
            try:
                stored = self._stored(ref)
            except StoneError as err:
                raise err.in_context(file=self.name, payload=ref.label) from None
            yield stored, functools.partial(self._flat, ref, stored)

    def _flat(self, ref: PayloadRef, stored: bytes) -> FlatMeta:
        try:
            body = stored[PAYLOAD_HEADER_SIZE:]
            return flat_meta(self._decompress(ref, body), ref.header.num_records)
        except StoneError as err:
            raise err.in_context(file=self.name, payload=ref.label) from None

    def _meta(self, ref: PayloadRef) -> Meta:
        try:
            plain = memoryview(self._plain(ref))
            return Meta.from_fields(decode_meta_fields(plain, ref.header.num_records))
        except StoneError as err:
            raise err.in_context(file=self.name, payload=ref.label) from None

    def layout(self) -> list[LayoutEntry]:
        return [
            entry
            for ref in self.of_kind(PayloadKind.LAYOUT)
            for entry in self._decode(ref, decode_layout)
        ]

    def index(self) -> list[IndexEntry]:
        return [
            entry
            for ref in self.of_kind(PayloadKind.INDEX)
            for entry in self._decode(ref, decode_index)
        ]

    def attributes(self) -> list[Attribute]:
        return [
            attribute
            for ref in self.of_kind(PayloadKind.ATTRIBUTES)
            for attribute in self._decode(ref, decode_attributes)
        ]

    def unpack_content(
        self,
        sink: ContentSink,
        entries: Sequence[IndexEntry] | None = None,
        *,
        new_hasher: NewHasher = xxhash.xxh3_128,
    ) -> None:
        """Stream the content into `sink`, each file checked against its index digest (with
        XXH3-128, or what `new_hasher` makes)."""
        refs = self.of_kind(PayloadKind.CONTENT)
        if not refs:
            if entries or self.index():
                raise RecordError("archive has index entries but no content", file=self.name)
            return
        if len(refs) > 1:
            raise RecordError("archive has more than one content payload", file=self.name)
        ref = refs[0]
        if entries is None:
            entries = self.index()
        try:
            if ref.header.compression is None:
                raise RecordError(f"unknown compression {ref.header.compression_code}")
            self._file.seek(ref.offset)
            stream_content(ref.header, self._file, entries, sink, new_hasher=new_hasher)
        except StoneError as err:
            raise err.in_context(file=self.name, payload=ref.label) from None

    def verify(self) -> None:
        """Read and check every payload, content included, without keeping the content."""
        self.verify_records()
        if self.of_kind(PayloadKind.CONTENT):
            self.unpack_content(NullSink())

    def verify_records(self) -> None:
        """Read and check every payload but the content (which `unpack_content` checks as it
        goes): a command that reads only some payloads still refuses a file with a bad one."""
        for _meta in self.iter_metas():
            pass
        self.layout()
        self.index()
        self.attributes()

    def _first(self, kind: PayloadKind) -> PayloadRef:
        refs = self.of_kind(kind)
        if not refs:
            raise RecordError(f"archive has no {kind.text} payload", file=self.name)
        return refs[0]


def read(path: str | os.PathLike[str], *expected: FileType) -> StoneReader:
    """Open an archive, optionally requiring one of the given file types."""
    reader = StoneReader(path)
    if expected:
        try:
            reader.expect(*expected)
        except StoneError:
            reader.close()
            raise
    return reader

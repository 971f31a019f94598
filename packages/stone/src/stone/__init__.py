"""Read and write the AerynOS `.stone` container, byte-compatible with upstream.

Reading: `StoneReader` (or `read`) opens an archive, checks every header at once and decodes
payloads on first use; `unpack_content` streams files into a `ContentSink`.
Writing: `write_binary`, `write_manifest`, `write_index`; `scan_tree` packs a directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

if TYPE_CHECKING:
    from .attributes import Attribute
    from .errors import (
        ChecksumMismatchError,
        CompressionError,
        CorruptHeaderError,
        DigestMismatchError,
        EncodeError,
        IndexRangeError,
        InvalidMagicError,
        PlainSizeMismatchError,
        RecordError,
        SizeLimitError,
        StoneError,
        TruncatedError,
        UnexpectedFileTypeError,
        UnsafePathError,
        UnsupportedVersionError,
    )
    from .extraction import ExtractError, ExtractReport, extract
    from .flat import FlatMeta
    from .header import FileType, Header
    from .index import IndexEntry
    from .layout import FileKind, LayoutEntry, is_safe_path, validate_path
    from .meta import Meta, MetaRecord, MetaTag, Primitive
    from .payload import Compression, PayloadHeader, PayloadKind
    from .reader import PayloadRef, StoneReader, read
    from .relation import Dependency, Provider, RelationKind
    from .report import manifest_report
    from .sinks import ContentSink, ContentWriter, DirectorySink, MemorySink, NullSink, hex_name
    from .tree import Tree, file_digest, scan_tree
    from .writer import (
        Blob,
        BytesBlob,
        FileBlob,
        encode_payload,
        write_binary,
        write_index,
        write_manifest,
    )

# Loaded on first use: `moss --help` must not pay for the reader and writer.
__getattr__ = lazy_attributes(
    __name__,
    {
        "Attribute": "stone.attributes",
        "Blob": "stone.writer",
        "BytesBlob": "stone.writer",
        "ChecksumMismatchError": "stone.errors",
        "Compression": "stone.payload",
        "CompressionError": "stone.errors",
        "ContentSink": "stone.sinks",
        "ContentWriter": "stone.sinks",
        "CorruptHeaderError": "stone.errors",
        "Dependency": "stone.relation",
        "DigestMismatchError": "stone.errors",
        "DirectorySink": "stone.sinks",
        "EncodeError": "stone.errors",
        "ExtractError": "stone.extraction",
        "ExtractReport": "stone.extraction",
        "FileBlob": "stone.writer",
        "FileKind": "stone.layout",
        "FileType": "stone.header",
        "FlatMeta": "stone.flat",
        "Header": "stone.header",
        "IndexEntry": "stone.index",
        "IndexRangeError": "stone.errors",
        "InvalidMagicError": "stone.errors",
        "LayoutEntry": "stone.layout",
        "MemorySink": "stone.sinks",
        "Meta": "stone.meta",
        "MetaRecord": "stone.meta",
        "MetaTag": "stone.meta",
        "NullSink": "stone.sinks",
        "PayloadHeader": "stone.payload",
        "PayloadKind": "stone.payload",
        "PayloadRef": "stone.reader",
        "PlainSizeMismatchError": "stone.errors",
        "Primitive": "stone.meta",
        "Provider": "stone.relation",
        "RecordError": "stone.errors",
        "RelationKind": "stone.relation",
        "SizeLimitError": "stone.errors",
        "StoneError": "stone.errors",
        "StoneReader": "stone.reader",
        "Tree": "stone.tree",
        "TruncatedError": "stone.errors",
        "UnexpectedFileTypeError": "stone.errors",
        "UnsafePathError": "stone.errors",
        "UnsupportedVersionError": "stone.errors",
        "encode_payload": "stone.writer",
        "extract": "stone.extraction",
        "file_digest": "stone.tree",
        "hex_name": "stone.sinks",
        "is_safe_path": "stone.layout",
        "manifest_report": "stone.report",
        "read": "stone.reader",
        "scan_tree": "stone.tree",
        "validate_path": "stone.layout",
        "write_binary": "stone.writer",
        "write_index": "stone.writer",
        "write_manifest": "stone.writer",
    },
)

__all__ = [
    "Attribute",
    "Blob",
    "BytesBlob",
    "ChecksumMismatchError",
    "Compression",
    "CompressionError",
    "ContentSink",
    "ContentWriter",
    "CorruptHeaderError",
    "Dependency",
    "DigestMismatchError",
    "DirectorySink",
    "EncodeError",
    "ExtractError",
    "ExtractReport",
    "FileBlob",
    "FileKind",
    "FileType",
    "FlatMeta",
    "Header",
    "IndexEntry",
    "IndexRangeError",
    "InvalidMagicError",
    "LayoutEntry",
    "MemorySink",
    "Meta",
    "MetaRecord",
    "MetaTag",
    "NullSink",
    "PayloadHeader",
    "PayloadKind",
    "PayloadRef",
    "PlainSizeMismatchError",
    "Primitive",
    "Provider",
    "RecordError",
    "RelationKind",
    "SizeLimitError",
    "StoneError",
    "StoneReader",
    "Tree",
    "TruncatedError",
    "UnexpectedFileTypeError",
    "UnsafePathError",
    "UnsupportedVersionError",
    "encode_payload",
    "extract",
    "file_digest",
    "hex_name",
    "is_safe_path",
    "manifest_report",
    "read",
    "scan_tree",
    "validate_path",
    "write_binary",
    "write_index",
    "write_manifest",
]

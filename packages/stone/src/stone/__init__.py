"""Read and write the AerynOS `.stone` container, byte-compatible with upstream.

Reading: `StoneReader` (or `read`) opens an archive, checks every header at once and decodes
payloads on first use; `unpack_content` streams files into a `ContentSink`.
Writing: `write_binary`, `write_manifest`, `write_index`; `scan_tree` packs a directory.
"""

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
from .extract import ExtractError, ExtractReport, extract
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

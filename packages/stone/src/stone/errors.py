"""The errors a `.stone` can raise: one base class, one subclass per kind of problem.

Every message names the file and the payload where they are known, then the problem, so a
user sees e.g. ``foo.stone: payload 2 (layout): record 7 overruns the payload body``.
"""

from __future__ import annotations


class StoneError(Exception):
    """Base of every error raised by the stone library."""

    def __init__(self, problem: str, *, file: str | None = None, payload: str | None = None):
        self.problem = problem
        self.file = file
        self.payload = payload
        super().__init__(self._render())

    def _render(self) -> str:
        return ": ".join(part for part in (self.file, self.payload, self.problem) if part)

    def in_context(self, *, file: str | None = None, payload: str | None = None) -> StoneError:
        """Fill in where the problem was found, keeping whatever is already known."""
        if file is not None and self.file is None:
            self.file = file
        if payload is not None and self.payload is None:
            self.payload = payload
        self.args = (self._render(),)
        return self

    def __str__(self) -> str:
        return self._render()


class InvalidMagicError(StoneError):
    """The file does not start with the stone magic."""


class UnsupportedVersionError(StoneError):
    """The container format version is not 1."""


class CorruptHeaderError(StoneError):
    """The fixed integrity bytes of the header differ."""


class UnexpectedFileTypeError(StoneError):
    """The archive is not of the type the caller asked for."""


class TruncatedError(StoneError):
    """The file ends inside a header or a body, or holds fewer payloads than announced."""


class ChecksumMismatchError(StoneError):
    """A payload's stored bytes do not match the XXH3-64 checksum of its header."""


class CompressionError(StoneError):
    """A payload body could not be decompressed."""


class PlainSizeMismatchError(StoneError):
    """A payload decompressed to a size other than its header's plain size."""


class SizeLimitError(StoneError):
    """Declared sizes or record counts that cannot be true, or exceed a safety limit."""


class RecordError(StoneError):
    """A record is malformed: overruns the body, leaves bytes over, or holds an invalid value."""


class IndexRangeError(StoneError):
    """An index entry points outside the content, or ranges overlap."""


class DigestMismatchError(StoneError):
    """A file's bytes in the content do not match the XXH3-128 digest of its index entry."""


class UnsafePathError(StoneError):
    """A layout path that is empty, absolute, holds NUL, or `.`/`..` components."""


class EncodeError(StoneError):
    """A value cannot be written: it does not fit its field in the format."""

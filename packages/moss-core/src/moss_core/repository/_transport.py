"""Getting bytes from a repository URI: one function per scheme, so a new transport is one
more function and one more branch in `fetch`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from moss_core.repository import http
from moss_core.repository._model import MissingError, RepositoryError
from moss_core.repository.http import Validators
from moss_core.repository.limits import DEFAULT_LIMITS, TransferLimits

CHUNK_SIZE = 1 << 20

Sink = Callable[[bytes], object]


def fetch(uri: str, sink: Sink, limits: TransferLimits = DEFAULT_LIMITS) -> None:
    """Stream the resource at `uri` into `sink`, chunk by chunk (the sink bounds the size)."""
    scheme = urlsplit(uri).scheme
    if scheme == "file":
        _fetch_file(uri, sink)
    elif scheme in ("http", "https"):
        http.fetch(uri, sink, limits)
    else:
        raise RepositoryError(f"{uri}: unsupported URI scheme {scheme!r}")


def fetch_index(
    uri: str, path: Path, previous: Validators | None, limits: TransferLimits = DEFAULT_LIMITS
) -> Validators | None:
    """Write the index at `uri` to `path` and return what identifies it for the next
    conditional request; None, with `path` untouched, when `previous` still describes it (an
    HTTP 304). A `file://` index is always copied: reading it costs what checking it would.
    Either is refused once it passes `limits.max_index_bytes`."""
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https"):
        return http.fetch_index(uri, path, previous, limits)
    with open(path, "wb") as out:
        cap = limits.max_index_bytes
        fetch(uri, capped(out.write, cap, f"{uri}: index larger than {cap} bytes (max-index-size)"))
    return Validators()


def capped(sink: Sink, limit: int, problem: str) -> Sink:
    """`sink`, refusing the chunk that takes it past `limit` bytes with a `RepositoryError`
    that says `problem`."""
    written = 0

    def write(chunk: bytes) -> None:
        nonlocal written
        written += len(chunk)
        if written > limit:
            raise RepositoryError(problem)
        sink(chunk)

    return write


def download(uri: str, path: Path, limits: TransferLimits = DEFAULT_LIMITS) -> None:
    """Write the resource at `uri` to `path`, a new file only its owner may read: the caller
    widens that once it knows what the file is (a copy of a local file may be a secret). Nothing
    declares its size, so `limits.max_download_bytes` bounds it."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    cap = limits.max_download_bytes
    too_large = f"{uri}: larger than {cap} bytes (max-download-size)"
    with open(descriptor, "wb") as out:
        fetch(uri, capped(out.write, cap, too_large), limits)


def fetch_small(uri: str, limit: int, limits: TransferLimits = DEFAULT_LIMITS) -> bytes:
    """The resource at `uri`, which must be at most `limit` bytes (a signature, a root index)."""
    chunks: list[bytes] = []
    fetch(uri, capped(chunks.append, limit, f"{uri}: larger than {limit} bytes"), limits)
    return b"".join(chunks)


def link_file(uri: str, target: Path) -> bool:
    """Hard-link a `file://` resource to `target`; False where that cannot be done (another
    file system, a file this user may not link), for the caller to copy it instead."""
    if urlsplit(uri).scheme != "file":
        return False
    try:
        os.link(url2pathname(urlsplit(uri).path), target)
    except OSError:
        return False
    return True


def _fetch_file(uri: str, sink: Sink) -> None:
    path = url2pathname(urlsplit(uri).path)
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below, errors told apart from sink's
    except FileNotFoundError as err:
        raise MissingError(f"{uri}: {err.strerror}") from None
    except OSError as err:
        raise RepositoryError(f"{uri}: {err.strerror or err}") from None
    with source:
        while True:
            try:
                chunk = source.read(CHUNK_SIZE)
            except OSError as err:
                raise RepositoryError(f"{uri}: {err.strerror or err}") from None
            if not chunk:
                return
            sink(chunk)

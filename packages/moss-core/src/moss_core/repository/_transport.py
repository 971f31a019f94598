"""Getting bytes from a repository URI: one function per scheme, so a new transport is one
more function and one more branch in `fetch`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from moss_core.repository import http
from moss_core.repository._model import RepositoryError
from moss_core.repository.http import Validators

CHUNK_SIZE = 1 << 20

Sink = Callable[[bytes], object]


def fetch(uri: str, sink: Sink) -> None:
    """Stream the resource at `uri` into `sink`, chunk by chunk."""
    scheme = urlsplit(uri).scheme
    if scheme == "file":
        _fetch_file(uri, sink)
    elif scheme in ("http", "https"):
        http.fetch(uri, sink)
    else:
        raise RepositoryError(f"{uri}: unsupported URI scheme {scheme!r}")


def fetch_index(uri: str, path: Path, previous: Validators | None) -> Validators | None:
    """Write the index at `uri` to `path` and return what identifies it for the next
    conditional request; None, with `path` untouched, when `previous` still describes it (an
    HTTP 304). A `file://` index is always copied: reading it costs what checking it would."""
    scheme = urlsplit(uri).scheme
    if scheme in ("http", "https"):
        return http.fetch_index(uri, path, previous)
    with open(path, "wb") as out:
        fetch(uri, out.write)
    return Validators()


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

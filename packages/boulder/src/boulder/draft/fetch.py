"""Fetching and unpacking the sources a draft or an update names: `http(s)://` and `file://`
through boulder's download code, `git|URL` mirrored and cloned as builds do. What is fetched is
also put in boulder's upstream cache, so the first build does not fetch it again."""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from boulder.build.upstreams import (
    download_upstream,
    fetch_git,
    plain_cache_path,
    share_file,
    unpack,
)
from boulder.draft.metadata import file_name, split_git
from boulder.errors import UpstreamError
from boulder.recipe.model import GitUpstream, PlainUpstream
from moss_core.fs import sha256_file
from moss_core.repository.limits import DEFAULT_LIMITS

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Fetched:
    """A fetched upstream: as the recipe writes it (`uri`, sha256 or commit in `hash`) and the
    local file or clone."""

    uri: str
    hash: str
    path: Path
    git: bool


def fetch_file(url: str, workdir: Path) -> Fetched:
    name = file_name(url) or "upstream"
    target = workdir / "downloads" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    # Boulder's own download: moss-core's transport for http(s):// and file://, with its
    # limits, a local file's copy no more readable than the file.
    download_upstream(url, target, DEFAULT_LIMITS)
    return Fetched(url, sha256_file(target), target, git=False)


def keep(fetched: Fetched, cache: Path) -> Fetched:
    """Put a fetched file where a build of its recipe looks for it first."""
    cached = plain_cache_path(cache, PlainUpstream(fetched.uri, fetched.hash))
    cached.parent.mkdir(parents=True, exist_ok=True)
    share_file(fetched.path, cached)
    return fetched


def fetch_repository(url: str, ref: str, workdir: Path, cache: Path) -> Fetched:
    """Clone `url` at `ref`; the commit it resolves to is the hash a draft records."""
    dest = workdir / "git" / (file_name(url).removesuffix(".git") or "repository")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        commit = fetch_git(cache, GitUpstream(url, ref), dest, lambda _line: None)
    except UpstreamError as err:
        # git explains over several lines; the first says what went wrong.
        first = err.message.splitlines()[0] if err.message else "git failed"
        raise UpstreamError(first if url in first else f"{url}: {first}", key="upstream") from err
    return Fetched(f"git|{url}", commit, dest, git=True)


def fetch_source(uri: str, workdir: Path, cache: Path) -> Fetched:
    """A source to draft from: a repository at its HEAD, or an archive (kept in the cache)."""
    url, git = split_git(uri)
    if git:
        return fetch_repository(url, "HEAD", workdir, cache)
    fetched = fetch_file(url, workdir)
    if not is_archive(fetched.path):
        raise UpstreamError(
            f"{fetched.uri}: {fetched.path.name} is not an archive (tar, compressed tar or zip)",
            key="upstream",
        )
    return keep(fetched, cache)


def is_archive(path: Path) -> bool:
    with open(path, "rb") as raw:
        magic = raw.read(4)
    return magic == _ZSTD_MAGIC or zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def extract(fetched: Fetched, dest: Path) -> Path:
    """Unpack (or, for a clone, point at) the source; the directory holding the project."""
    if fetched.git:
        return fetched.path
    unpack(fetched.path, dest, 0)
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return dest

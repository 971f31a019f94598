"""Fetching, verifying, caching, sharing and unpacking upstreams (spec §3.5, §3.6 prepare).

Plain upstreams are checked against their SHA-256 before anything else runs. They are fetched
by moss-core's transport (`moss_core.repository.download`), so they have its limits on pace and
redirects. A local upstream (`file://`, or a git path) must lie inside the recipe's directory
unless the user allows others: a recipe is untrusted input, and boulder may run as root. A
cached copy of a local file is never readable by more than the file itself. Archives are
unpacked by boulder itself, member by member: nothing may land outside the target directory,
whether through an absolute name, `..`, or a directory that an earlier member made a symlink.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

import zstandard

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath

from boulder.errors import UpstreamError
from boulder.recipe.model import GitUpstream, PlainUpstream, Upstream
from moss_core.errors import MossError
from moss_core.fs import sha256_file
from moss_core.repository import TransferLimits, download
from moss_core.repository.limits import DEFAULT_LIMITS

_CHUNK = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZIP_MAGIC = b"PK\x03\x04"


def plain_cache_path(cache: Path, upstream: PlainUpstream) -> Path:
    key = hashlib.sha256((upstream.url + upstream.hash).encode()).hexdigest()
    return cache / "upstreams" / "fetched" / key[:5] / key[-5:] / key


def git_cache_path(cache: Path, upstream: GitUpstream) -> Path:
    parts = urlsplit(upstream.url)
    name = f"{parts.hostname or 'local'}_{parts.path.lstrip('/').replace('/', '.')}"
    return cache / "upstreams" / "git" / name


def local_path(url: str) -> Path | None:
    """The host path an upstream URL names, absolute; None for a remote one. Git takes a path
    or `file://`; a `host:path` with no `/` before the colon is ssh, so remote."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path)).absolute()
    if "://" in url or ":" in url.partition("/")[0]:
        return None
    return Path(url).absolute()


def check_local(upstreams: tuple[Upstream, ...], recipe_dir: Path, *, allow: bool) -> None:
    """Refuse local upstreams outside `recipe_dir` (symlinks resolved) unless `allow`. Checked
    before anything is read: the error names the URL and nothing of what it holds."""
    if allow:
        return
    inside = recipe_dir.resolve()
    for upstream in upstreams:
        path = local_path(upstream.url)
        if path is not None and not path.resolve().is_relative_to(inside):
            raise UpstreamError(
                f"{upstream.url}: a local upstream outside the recipe's directory ({inside}); "
                "allow such upstreams with `boulder build --allow-local-upstreams`",
                key="upstream",
            )


def download_upstream(url: str, target: Path, limits: TransferLimits) -> None:
    """`url` (http(s):// or file://) into `target`, replaced only once complete."""
    partial = target.with_name(target.name + ".part")
    try:
        download(url, partial, limits)
        partial.chmod(_cached_mode(url))
    except (MossError, OSError) as err:
        partial.unlink(missing_ok=True)
        raise UpstreamError(f"cannot fetch {err}", key="upstream") from None
    partial.replace(target)


def _cached_mode(url: str) -> int:
    """0644 for a download; for a copy of a local file, no more than the file itself allows
    (a recipe allowed to name /etc/shadow does not make it world-readable)."""
    path = local_path(url)
    return 0o644 if path is None else 0o644 & os.stat(path).st_mode


def fetch_plain(
    cache: Path,
    upstream: PlainUpstream,
    log: Callable[[str], None],
    limits: TransferLimits = DEFAULT_LIMITS,
) -> Path:
    """The cached file of a plain upstream, downloaded if needed; its hash is always checked."""
    cached = plain_cache_path(cache, upstream)
    name = upstream.file_name
    if cached.is_file() and sha256_file(cached) == upstream.hash:
        log(f"Shared {name} (cached)")
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    download_upstream(upstream.url, cached, limits)
    actual = sha256_file(cached)
    if actual != upstream.hash:
        cached.unlink()
        raise UpstreamError(
            f'hash mismatch for {name}, expected "{upstream.hash}" got "{actual}"',
            key="upstream",
        )
    log(f"Shared {name}")
    return cached


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env
        )
    except OSError as err:
        raise UpstreamError(f"cannot run git: {err}", key="upstream") from err


def _checked(done: subprocess.CompletedProcess[str], what: str) -> str:
    if done.returncode != 0:
        raise UpstreamError(f"{what}: {done.stderr.strip()}", key="upstream")
    return done.stdout.strip()


def _resolve(mirror: Path, ref: str) -> str | None:
    done = _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=mirror)
    return done.stdout.strip() if done.returncode == 0 else None


def fetch_git(cache: Path, upstream: GitUpstream, dest: Path, log: Callable[[str], None]) -> str:
    """Mirror the repository in the cache (fetching only when the ref is unknown), then clone
    it to `dest` at the ref, `origin` pointing at the real URL. Returns the commit."""
    mirror = git_cache_path(cache, upstream)
    if mirror.is_dir() and _git("rev-parse", "--git-dir", cwd=mirror).returncode != 0:
        shutil.rmtree(mirror)
    if not mirror.is_dir():
        mirror.parent.mkdir(parents=True, exist_ok=True)
        _checked(_git("clone", "--mirror", "--quiet", upstream.url, str(mirror)), "git clone")
    commit = _resolve(mirror, upstream.ref)
    if commit is None:
        _checked(_git("fetch", "--quiet", "--prune", "origin", cwd=mirror), "git fetch")
        commit = _resolve(mirror, upstream.ref)
    if commit is None:
        raise UpstreamError(f"git ref {upstream.ref} not found in {upstream.url}", key="upstream")
    if dest.exists():
        shutil.rmtree(dest)
    _checked(_git("clone", "--quiet", "--no-checkout", str(mirror), str(dest)), "git clone")
    _checked(_git("checkout", "--quiet", "--detach", commit, cwd=dest), "git checkout")
    _checked(_git("remote", "set-url", "origin", upstream.url, cwd=dest), "git remote")
    log(f"Shared {upstream.file_name} ({commit[:12]})")
    return commit


def share_file(source: Path, target: Path) -> None:
    """Hard-link, else copy, `source` to `target`, replacing it."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# -- unpacking ---------------------------------------------------------------------------------


def _stripped(name: str, stripdirs: int) -> str | None:
    """The member name without its first `stripdirs` components; None when nothing is left."""
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise UpstreamError(f"archive member {name!r} points outside the unpack directory")
    kept = parts[stripdirs:]
    return "/".join(kept) if kept else None


def _safe_target(dest: Path, relative: str) -> Path:
    """The host path of `relative` under `dest`, refusing to go through any symlink. A symlink
    already at the path itself is removed: the member replaces it rather than writing through."""
    target = _inside(dest, relative)
    if target.is_symlink():
        target.unlink()
    return target


def _inside(dest: Path, relative: str) -> Path:
    current = dest
    for part in PurePosixPath(relative).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise UpstreamError(f"archive member {relative!r} would be written through a symlink")
    return dest / relative


def _link_source(dest: Path, relative: str) -> None:
    # Hard links are made following symlinks: linking to one could reach any file.
    if _inside(dest, relative).is_symlink():
        raise UpstreamError(f"archive hard link to {relative!r}, a symlink")


def check_names(upstreams: tuple[Upstream, ...]) -> None:
    """Refuse upstream names that would leave the source or build directory: a file name is
    one plain component, a directory (`unpackdir`, `clonedir`) a relative path without `..`."""
    for upstream in upstreams:
        name, directory = upstream.file_name, upstream.directory
        parts = PurePosixPath(directory).parts
        if not name or name in (".", "..") or "/" in name or "\0" in name + directory:
            bad = name
        elif not parts or directory.startswith("/") or ".." in parts:
            bad = directory
        else:
            continue
        raise UpstreamError(
            f"{upstream.url}: {bad!r} is not a plain file or directory name", key="upstream"
        )


class _NoChownTarFile(tarfile.TarFile):
    # Unpacked files belong to the builder (root inside the container), never to the ids the
    # archive records.
    def chown(
        self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath, numeric_owner: bool
    ) -> None:
        return None


@contextmanager
def _open_tar(path: Path) -> Iterator[tarfile.TarFile]:
    with open(path, "rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic == _ZSTD_MAGIC:
            with (
                zstandard.ZstdDecompressor().stream_reader(raw) as plain,
                _NoChownTarFile.open(fileobj=plain, mode="r|") as tar,
            ):
                yield tar
        else:
            with _NoChownTarFile.open(fileobj=raw, mode="r|*") as tar:
                yield tar


def _unpack_tar(archive: Path, dest: Path, stripdirs: int) -> None:
    try:
        with _open_tar(archive) as tar:
            for member in tar:
                name = _stripped(member.name, stripdirs)
                if name is None:
                    continue
                if member.isdev():
                    continue
                if member.islnk():
                    link = _stripped(member.linkname, stripdirs)
                    if link is None:
                        continue
                    _link_source(dest, link)
                    member.linkname = link
                member.name = name
                _safe_target(dest, name)
                member.mode &= 0o7777 & ~(stat.S_ISUID | stat.S_ISGID)
                _extract(tar, member, dest)
    except (tarfile.TarError, OSError, EOFError, zstandard.ZstdError) as err:
        raise UpstreamError(f"cannot unpack {archive.name}: {err}") from err


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    if hasattr(tarfile, "fully_trusted_filter"):
        # Every member was checked above; the default filter of newer Pythons would re-check
        # with different rules (it refuses absolute symlink targets, which sources do ship).
        tar.extract(member, dest, filter="fully_trusted")
    else:
        tar.extract(member, dest)


def _unpack_zip(archive: Path, dest: Path, stripdirs: int) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                name = _stripped(info.filename, stripdirs)
                if name is None:
                    continue
                target = _safe_target(dest, name)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    target.chmod(mode)
    except (zipfile.BadZipFile, OSError) as err:
        raise UpstreamError(f"cannot unpack {archive.name}: {err}") from err


def unpack(archive: Path, dest: Path, stripdirs: int) -> None:
    """Unpack a tar (plain, gzip, bzip2, xz, zstd) or zip archive into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    with open(archive, "rb") as raw:
        magic = raw.read(4)
    if magic == _ZIP_MAGIC:
        _unpack_zip(archive, dest, stripdirs)
    else:
        _unpack_tar(archive, dest, stripdirs)


def prepare(upstreams: tuple[Upstream, ...], sourcedir: Path, buildroot: Path) -> None:
    """What the prepare phase does, done by boulder: unpack each plain upstream that asks for
    it and copy each git clone into its directory under the buildroot."""
    for upstream in upstreams:
        target = buildroot / upstream.directory
        if isinstance(upstream, GitUpstream):
            shutil.copytree(
                sourcedir / upstream.file_name, target, symlinks=True, dirs_exist_ok=True
            )
        elif upstream.unpack:
            unpack(sourcedir / upstream.file_name, target, upstream.stripdirs)

"""Fetching packages into the download cache, unpacking each as soon as it is there.

The caller plans: one `FetchJob` per package says where it comes from and where it goes
(`Installation.download_path(package.id)`). `fetch_all` runs the plan on an event loop of its
own: at most `parallel` downloads in flight over one HTTP session, each written to
`<target>.part`, continued with a `Range` request when a `.part` is already there (from an
interrupted attempt or an earlier run), and renamed into place only once its size and sha256
match the index. A body is held to the size the index gives as it streams, and a transfer
slower than the `TransferLimits` floor is abandoned. Transient failures (connection refused or
lost, timeouts, 5xx, a body cut short) are retried with exponential backoff. Each verified
package goes to `on_ready` on a worker thread (`unpackers` of them, so that many unpacks run at
once) while the other downloads go on.

The first failure stops everything: the downloads still running are cancelled, the unpack in
progress finishes, and the error (naming the package and URL) is raised. A `.part` that failed
its check is removed; one cut off mid-transfer stays, to be resumed next time. A target
already in the cache that verifies is not fetched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import urlsplit

from moss_core.fs import sha256_file
from moss_core.registry import Package
from moss_core.repository import _transport, http
from moss_core.repository._model import RepositoryError, is_sha256
from moss_core.repository.limits import DEFAULT_LIMITS, TransferLimits

if TYPE_CHECKING:
    import aiohttp

_INLINE_CHECK = 256 << 10

T = TypeVar("T")


@dataclass(frozen=True)
class FetchJob:
    """One package to fetch: from `uri` (http, https or file) to `target`."""

    package: Package
    uri: str
    target: Path

    @property
    def part(self) -> Path:
        return self.target.with_name(f"{self.target.name}.part")

    @property
    def expected_size(self) -> int | None:
        return self.package.meta.download_size


class FetchProgress(Protocol):
    """What the fetch is doing, for a progress display; called on the thread that called
    `fetch_all`, never concurrently. For each job: `start` once (with the size the index
    gives, if any), `advance` as bytes arrive (a `.part` being resumed first advances by what
    it holds, a package found in the cache by its whole size; negative when a partial download
    is dropped to start over), and `finish` once it is verified and in place, just before it
    is queued for `on_ready`. The advances of a finished job sum to its size."""

    def start(self, job: FetchJob, total_bytes: int | None) -> None: ...

    def advance(self, job: FetchJob, nbytes: int) -> None: ...

    def finish(self, job: FetchJob) -> None: ...


def fetch_all(
    jobs: Sequence[FetchJob],
    on_ready: Callable[[FetchJob, Path], object],
    *,
    parallel: int = 8,
    unpackers: int = 1,
    progress: FetchProgress | None = None,
    retries: int = http.DEFAULT_RETRIES,
    backoff: float = http.DEFAULT_BACKOFF,
    limits: TransferLimits = DEFAULT_LIMITS,
) -> None:
    """Fetch every job and hand each verified file to `on_ready(job, path)`; see the module
    documentation. `parallel=1` is the sequential reference: one package at a time, each
    unpacked before the next download starts. At most `unpackers` calls of `on_ready` run at
    once. `limits` bounds each connect, each wait for data and the pace of each transfer (see
    `load_limits` for a root's). Two jobs with one target are fetched once, for the first of
    them.

    Synchronous: it runs its own event loop, so it must not be called from a coroutine.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    if retries < 0:
        raise ValueError(f"retries must not be negative, not {retries}")
    if unpackers < 1:
        raise ValueError(f"unpackers must be at least 1, not {unpackers}")
    unique: dict[Path, FetchJob] = {}
    for job in jobs:
        unique.setdefault(job.target, job)
    if not unique:
        return
    with ThreadPoolExecutor(max_workers=unpackers, thread_name_prefix="moss-unpack") as unpacker:
        pipeline = _Pipeline(
            on_ready,
            unpacker,
            parallel=parallel,
            progress=progress,
            retries=retries,
            backoff=backoff,
            limits=limits,
        )
        asyncio.run(pipeline.run(list(unique.values())))


class _Pipeline:
    def __init__(
        self,
        on_ready: Callable[[FetchJob, Path], object],
        unpacker: ThreadPoolExecutor,
        *,
        parallel: int,
        progress: FetchProgress | None,
        retries: int,
        backoff: float,
        limits: TransferLimits,
    ) -> None:
        self.on_ready = on_ready
        self.unpacker = unpacker
        self.parallel = parallel
        self.progress = progress
        self.retries = retries
        self.backoff = backoff
        self.limits = limits
        self.advanced: dict[Path, int] = {}
        self.session: aiohttp.ClientSession | None = None

    async def run(self, jobs: list[FetchJob]) -> None:
        slots = asyncio.Semaphore(self.parallel)
        async with contextlib.AsyncExitStack() as stack:
            if any(_is_http(job.uri) for job in jobs):
                self.session = await stack.enter_async_context(
                    http.open_session(self.parallel, self.limits)
                )
            tasks = [asyncio.create_task(self._one(job, slots)) for job in jobs]
            try:
                done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                if task in done and not task.cancelled():
                    error = task.exception()
                    if error is not None:
                        raise error

    async def _one(self, job: FetchJob, slots: asyncio.Semaphore) -> None:
        async with slots:
            path = await self._fetch(job)
            if self.parallel == 1:
                await self._ready(job, path)
                return
        await self._ready(job, path)

    async def _ready(self, job: FetchJob, path: Path) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.unpacker, self.on_ready, job, path)

    async def _fetch(self, job: FetchJob) -> Path:
        name, size = job.package.name, job.expected_size
        if not is_sha256(job.package.id):
            raise RepositoryError(f"{name}: {job.package.id!r} is not a sha256 package id")
        self._start(job, size)
        try:
            if job.target.exists() and await _off_loop(_reuse_or_clear, job, job.target):
                self._advance(job, job.target.stat().st_size)
            else:
                await self._download_verified(job)
        except OSError as err:
            raise RepositoryError(f"{name}: {err.filename or job.target}: {err.strerror}") from None
        if self.progress is not None:
            self.progress.finish(job)
        return job.target

    async def _download_verified(self, job: FetchJob) -> None:
        restarted = False
        while True:
            held = job.part.stat().st_size if _is_http(job.uri) and job.part.exists() else 0
            self._progress_to(job, held)
            await self._transfer(job)
            problem = await _off_loop(_verify, job, job.part)
            if problem is None:
                break
            job.part.unlink(missing_ok=True)
            if held and not restarted:
                # The bytes kept from before may be what is wrong: one more try, from zero.
                restarted = True
                continue
            raise RepositoryError(f"{job.package.name}: {job.uri}: {problem}")
        # No fsync: the cache is re-verified before every use, so a file torn by a crash
        # is fetched again rather than trusted.
        os.replace(job.part, job.target)

    async def _transfer(self, job: FetchJob) -> None:
        job.target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.session is not None and _is_http(job.uri):
                if job.part.exists() and job.part.stat().st_size == job.expected_size:
                    # Complete already (the run that fetched it stopped before the rename);
                    # a Range request from its end would only be refused.
                    return
                session = self.session
                await http.retrying(
                    lambda: http.download(
                        session,
                        job.uri,
                        job.part,
                        expected_size=job.expected_size,
                        on_bytes=lambda n: self._advance(job, n),
                        limits=self.limits,
                    ),
                    retries=self.retries,
                    backoff=self.backoff,
                )
            else:
                await self._copy(job)
        except RepositoryError as err:
            raise RepositoryError(f"{job.package.name}: {job.uri}: {err}") from None

    async def _copy(self, job: FetchJob) -> None:
        """A non-HTTP source (file://) in a worker thread, progress posted back to the loop:
        hard-linked where it can be, else copied, no further than the size the index gives (or,
        when it gives none, `max_download_bytes`)."""
        loop = asyncio.get_running_loop()

        def copy() -> None:
            # The cache entry is checked against its sha256 before every use, so sharing the
            # repository file's inode is as safe as a copy of it.
            job.part.unlink(missing_ok=True)
            if _transport.link_file(job.uri, job.part):
                loop.call_soon_threadsafe(self._advance, job, job.part.stat().st_size)
                return
            cap = job.expected_size
            too_large = f"{job.uri}: size mismatch, expected {cap} bytes, got more"
            if cap is None:
                cap = self.limits.max_download_bytes
                too_large = f"{job.uri}: larger than {cap} bytes (max-download-size)"
            try:
                with open(job.part, "wb") as out:

                    def write(chunk: bytes) -> None:
                        out.write(chunk)
                        loop.call_soon_threadsafe(self._advance, job, len(chunk))

                    _transport.fetch(job.uri, _transport.capped(write, cap, too_large))
            except BaseException:
                # Nothing to resume from a local file: a copy cut short is only clutter.
                job.part.unlink(missing_ok=True)
                raise

        try:
            await asyncio.to_thread(copy)
        except RepositoryError as err:
            # The transport names the URI already; keep only what went wrong.
            raise RepositoryError(str(err).removeprefix(f"{job.uri}: ")) from None

    def _start(self, job: FetchJob, total: int | None) -> None:
        self.advanced[job.target] = 0
        if self.progress is not None:
            self.progress.start(job, total)

    def _progress_to(self, job: FetchJob, nbytes: int) -> None:
        self._advance(job, nbytes - self.advanced.get(job.target, 0))

    def _advance(self, job: FetchJob, nbytes: int) -> None:
        if nbytes == 0:
            return
        self.advanced[job.target] = self.advanced.get(job.target, 0) + nbytes
        if self.progress is not None:
            self.progress.advance(job, nbytes)


async def _off_loop(check: Callable[[FetchJob], T], job: FetchJob, path: Path) -> T:
    """`check(job)`, in a worker thread when `path` is big enough for hashing it to hold up the
    other transfers; a small package is checked on the loop, where that costs less than the
    hand-over to a thread."""
    if path.stat().st_size < _INLINE_CHECK:
        return check(job)
    return await asyncio.to_thread(check, job)


def _is_http(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https")


def _reuse_or_clear(job: FetchJob) -> bool:
    """True if the target is in the cache and verifies; a target that does not is removed."""
    if not job.target.exists():
        return False
    if _check(job, job.target) is None:
        return True
    job.target.unlink()
    return False


def _verify(job: FetchJob) -> str | None:
    return _check(job, job.part)


def _check(job: FetchJob, path: Path) -> str | None:
    """What is wrong with `path` as the job's package (size, then sha256), or None."""
    expected = job.expected_size
    size = path.stat().st_size
    if expected is not None and size != expected:
        return f"size mismatch, expected {expected} bytes, got {size}"
    actual = sha256_file(path)
    if actual != job.package.id:
        return f"sha256 mismatch, expected {job.package.id}, got {actual}"
    return None

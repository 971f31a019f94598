"""HTTP(S) for repositories: conditional index requests and resumable package downloads.

Every failure is a `TransferError` whose `transient` flag says whether trying again may help (a
refused or lost connection, a timeout, a 5xx or 429, a body cut short) or not (404, a size
the index does not allow, a transfer slower than the `TransferLimits` floor, a redirect loop or
a redirect away from HTTP, a local file that cannot be written); `retrying` retries the first
kind with exponential backoff. Messages hold the problem only: callers lead them with the
package and URL they concern.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from moss_core._lazy import lazy_import
from moss_core.repository._model import MissingError, RepositoryError
from moss_core.repository.limits import DEFAULT_LIMITS, TransferLimits

# The HTTP stack costs tens of milliseconds to import; a command that downloads nothing (a
# cached install, a removal) never pays for it.
if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_import("aiohttp")

CHUNK_SIZE = 1 << 16
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.2
USER_AGENT = "moss-py"

T = TypeVar("T")
Sink = Callable[[bytes], object]


class TransferError(RepositoryError):
    """One attempt at a transfer failed; `transient` if another attempt may succeed."""

    def __init__(self, problem: str, *, transient: bool) -> None:
        super().__init__(problem)
        self.transient = transient


class _NotThere(TransferError):
    """The server says the resource does not exist (404, 410)."""


@dataclass(frozen=True)
class Validators:
    """What the server said identifies the index it sent, for a conditional request next time."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag is not None:
            headers["If-None-Match"] = self.etag
        if self.last_modified is not None:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    @classmethod
    def load(cls, path: Path) -> Validators | None:
        """The validators saved at `path`; None if there are none or they cannot be read (an
        unconditional request is always correct, merely slower)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        etag, modified = data.get("etag"), data.get("last-modified")
        validators = cls(
            etag if isinstance(etag, str) else None,
            modified if isinstance(modified, str) else None,
        )
        return validators if validators.request_headers() else None

    def save(self, path: Path) -> None:
        """Write them to `path` atomically, or remove `path` when there is nothing to save."""
        if not self.request_headers():
            path.unlink(missing_ok=True)
            return
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(
            json.dumps({"etag": self.etag, "last-modified": self.last_modified}), encoding="utf-8"
        )
        os.replace(temporary, path)


@contextlib.asynccontextmanager
async def open_session(
    parallel: int = 1, limits: TransferLimits = DEFAULT_LIMITS
) -> AsyncIterator[aiohttp.ClientSession]:
    """One session (one connection pool) with at most `parallel` connections. `limits.timeout`
    bounds connecting and each wait for data, not a whole transfer, so large packages are fine
    (the speed floor, applied per transfer, bounds those)."""
    connector = aiohttp.TCPConnector(limit=parallel)
    timeout = limits.timeout
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout),
        # Packages are compressed already, and a re-encoded body would break Range offsets.
        auto_decompress=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )
    async with session:
        yield session


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
) -> T:
    """Run `attempt` until it succeeds, up to `retries` more times after transient failures,
    sleeping `backoff`, then twice as long, and so on, in between."""
    for number in range(retries + 1):
        try:
            return await attempt()
        except TransferError as err:
            if not err.transient:
                raise
            if number == retries:
                tries = "1 attempt" if number == 0 else f"{number + 1} attempts"
                raise TransferError(f"{err} (gave up after {tries})", transient=True) from None
        await asyncio.sleep(backoff * (1 << number))
    raise AssertionError("unreachable: the last attempt returns or raises")


async def get_index(
    session: aiohttp.ClientSession,
    uri: str,
    path: Path,
    previous: Validators | None,
    limits: TransferLimits = DEFAULT_LIMITS,
) -> Validators | None:
    """Write the index at `uri` to `path` and return its validators; None, with `path` left
    alone, when `previous` still describes what the server has (304). An index larger than
    `limits.max_index_bytes` is refused as soon as that is known."""
    headers = previous.request_headers() if previous is not None else {}
    cap = limits.max_index_bytes
    with _translate():
        async with _paced(limits) as pace, session.get(uri, headers=headers) as response:
            if response.status == 304 and previous is not None:
                return None
            if response.status != 200:
                raise _status_error(response)
            try:
                _check_announced(response, cap)
                await _save(response, path, "wb", lambda _n: None, limit=cap, pace=pace)
            except _TooLarge as err:
                size = "" if err.announced is None else f" ({err.announced} announced)"
                raise TransferError(
                    f"index larger than {cap} bytes{size} (max-index-size)", transient=False
                ) from None
            return Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))


async def download(
    session: aiohttp.ClientSession,
    uri: str,
    part: Path,
    *,
    expected_size: int | None,
    on_bytes: Callable[[int], None],
    limits: TransferLimits = DEFAULT_LIMITS,
) -> None:
    """Fetch `uri` into `part`, continuing what `part` already holds with a Range request.

    A server that ignores the range sends the whole file and `part` starts over; `on_bytes` is
    then told of the bytes dropped as a negative count. A body larger than `expected_size`
    (without one, than `limits.max_download_bytes`) is refused as soon as it is seen (its
    announced length, else its bytes), and `part` removed.
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with _translate():
        async with _paced(limits) as pace, session.get(uri, headers=headers) as response:
            if offset and response.status == 206:
                if _range_start(response.headers.get("Content-Range")) != offset:
                    _restart(part, offset, on_bytes)
                    raise TransferError("server resumed at the wrong offset", transient=True)
                mode = "ab"
            elif response.status == 200:
                if offset:
                    on_bytes(-offset)
                    offset = 0
                mode = "wb"
            elif offset and response.status == 416:
                # What we hold is not a prefix of what the server has: start again.
                _restart(part, offset, on_bytes)
                raise TransferError("server refused to resume the download", transient=True)
            else:
                raise _status_error(response)
            cap = limits.max_download_bytes if expected_size is None else expected_size
            try:
                _check_announced(response, cap - offset)
                await _save(response, part, mode, on_bytes, limit=cap - offset, pace=pace)
            except _TooLarge as err:
                part.unlink(missing_ok=True)
                got = "more" if err.announced is None else f"{err.announced + offset} announced"
                if expected_size is None:
                    problem = f"larger than {cap} bytes ({got}; max-download-size)"
                else:
                    problem = f"size mismatch, expected {expected_size} bytes, got {got}"
                raise TransferError(problem, transient=False) from None


def fetch(uri: str, sink: Sink, limits: TransferLimits = DEFAULT_LIMITS) -> None:
    """Stream `uri` into `sink` (synchronous; runs an event loop of its own). Failures before
    the first byte are retried; once `sink` has seen data a failure is final, as the caller
    cannot take bytes back. The sink bounds the size."""

    async def attempt(session: aiohttp.ClientSession) -> None:
        started = False
        try:
            with _translate():
                async with _paced(limits) as pace, session.get(uri) as response:
                    if response.status != 200:
                        raise _status_error(response)
                    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                        started = True
                        pace.advance(len(chunk))
                        sink(chunk)
        except TransferError as err:
            if started and err.transient:
                raise TransferError(str(err), transient=False) from None
            raise

    async def run() -> None:
        async with open_session(1, limits) as session:
            await retrying(lambda: attempt(session))

    _run(uri, run())


def fetch_index(
    uri: str, path: Path, previous: Validators | None, limits: TransferLimits = DEFAULT_LIMITS
) -> Validators | None:
    """`get_index` with retries, synchronous (runs an event loop of its own)."""

    async def run() -> Validators | None:
        async with open_session(1, limits) as session:
            return await retrying(lambda: get_index(session, uri, path, previous, limits))

    return _run(uri, run())


def _run(uri: str, work: Coroutine[object, object, T]) -> T:
    try:
        return asyncio.run(work)
    except _NotThere as err:
        raise MissingError(f"{uri}: {err}") from None
    except TransferError as err:
        raise RepositoryError(f"{uri}: {err}") from None


class _TooLarge(Exception):
    def __init__(self, announced: int | None = None) -> None:
        super().__init__(announced)
        self.announced = announced


class _Pace:
    """The speed floor of one transfer: each `speed_time` window must bring `quota` bytes, or
    the deadline of the transfer's `asyncio.timeout` passes. Meeting the quota moves the deadline
    one window on. The wait for the response's headers counts too: a server that trickles
    those is as slow as one that trickles its body."""

    def __init__(self, limits: TransferLimits, scope: asyncio.Timeout) -> None:
        self.limits = limits
        self.scope = scope
        self.held = 0

    def advance(self, nbytes: int) -> None:
        if not self.limits.quota:
            return
        self.held += nbytes
        if self.held >= self.limits.quota:
            self.held = 0
            self.scope.reschedule(asyncio.get_running_loop().time() + self.limits.speed_time)


@contextlib.asynccontextmanager
async def _paced(limits: TransferLimits) -> AsyncIterator[_Pace]:
    window = limits.speed_time if limits.quota else None
    scope = asyncio.timeout(window)
    try:
        async with scope:
            yield _Pace(limits, scope)
    except TimeoutError:
        if not scope.expired():
            raise
        raise TransferError(
            f"transfer too slow: less than {limits.speed_limit} bytes/s for "
            f"{limits.speed_time:g} s (speed-limit, speed-time)",
            transient=False,
        ) from None


def _check_announced(response: aiohttp.ClientResponse, limit: int) -> None:
    announced = response.content_length
    if announced is not None and announced > limit:
        raise _TooLarge(announced)


async def _save(
    response: aiohttp.ClientResponse,
    path: Path,
    mode: str,
    on_bytes: Callable[[int], None],
    *,
    limit: int,
    pace: _Pace,
) -> None:
    # Only the file's own errors are local: aiohttp's connection errors and timeouts are
    # OSErrors too, so the network reads stay outside these `try`s.
    try:
        out = open(path, mode)  # noqa: SIM115 - closed below; its errors are told apart
    except OSError as err:
        raise _local_error(path, err) from None
    written = 0
    with out:
        async for chunk in response.content.iter_chunked(CHUNK_SIZE):
            written += len(chunk)
            if written > limit:
                raise _TooLarge()
            pace.advance(len(chunk))
            try:
                out.write(chunk)
            except OSError as err:
                raise _local_error(path, err) from None
            on_bytes(len(chunk))


def _local_error(path: Path, err: OSError) -> TransferError:
    return TransferError(f"{err.filename or path}: {err.strerror}", transient=False)


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    """aiohttp's exceptions as `TransferError`s, told apart by whether a retry may help."""
    try:
        yield
    except aiohttp.ClientConnectorCertificateError as err:
        raise TransferError(f"TLS certificate not accepted: {err}", transient=False) from None
    except aiohttp.ClientSSLError as err:
        raise TransferError(f"TLS failed: {err}", transient=False) from None
    except aiohttp.ClientConnectorError as err:
        # asyncio words a refused connection as "Connect call failed (addr)": say why instead.
        code = err.os_error.errno
        reason = os.strerror(code) if code and code > 0 else err.os_error.strerror
        raise TransferError(
            f"cannot connect to {err.host}:{err.port} ({reason or err.os_error})", transient=True
        ) from None
    except aiohttp.ClientPayloadError:
        raise TransferError(
            "connection lost before the whole body arrived", transient=True
        ) from None
    except aiohttp.ServerDisconnectedError:
        raise TransferError("the server closed the connection", transient=True) from None
    except aiohttp.TooManyRedirects as err:
        raise TransferError(
            f"too many redirects (stopped after {len(err.history)})", transient=False
        ) from None
    except aiohttp.NonHttpUrlRedirectClientError as err:
        raise TransferError(
            f"redirected to {err.args[0]}, which is not an http or https URL", transient=False
        ) from None
    except aiohttp.RedirectClientError as err:
        raise TransferError(f"redirected to an invalid URL: {err}", transient=False) from None
    except (aiohttp.InvalidURL, aiohttp.ClientResponseError) as err:
        raise TransferError(str(err) or type(err).__name__, transient=False) from None
    except TimeoutError:
        raise TransferError("timed out waiting for the server", transient=True) from None
    except aiohttp.ClientError as err:
        raise TransferError(str(err) or type(err).__name__, transient=True) from None


def _status_error(response: aiohttp.ClientResponse) -> TransferError:
    transient = response.status >= 500 or response.status in (408, 429)
    kind = _NotThere if response.status in (404, 410) else TransferError
    return kind(f"HTTP {response.status} {response.reason or ''}".rstrip(), transient=transient)


def _range_start(content_range: str | None) -> int | None:
    # "bytes 100-199/200"
    if content_range is None or not content_range.startswith("bytes "):
        return None
    first = content_range[6:].partition("-")[0]
    return int(first) if first.isdigit() else None


def _restart(part: Path, offset: int, on_bytes: Callable[[int], None]) -> None:
    part.unlink(missing_ok=True)
    on_bytes(-offset)

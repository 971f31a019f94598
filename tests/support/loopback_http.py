"""A real HTTP repository on 127.0.0.1 for the fetch and repository tests, with faults on demand.

`LoopbackServer` serves a directory with aiohttp's web server on an ephemeral port, in a
thread with its own event loop (the client under test runs `asyncio.run` in the test's
thread). It answers `Range: bytes=N-` requests and conditional requests (`ETag` from the
content, `Last-Modified` from the mtime), records every request, and takes queued faults per
path: a status, a delay, a body cut off after some bytes, flipped bytes, a stall mid-body, a
Range request answered with the whole file, a redirect, an endless body, a trickle, or a
Content-Length larger than the file. `Recorder` keeps what a fetch reports.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import random
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from moss_core.fetch import FetchJob
from moss_core.registry import Package
from moss_core.repository import INDEX_NAME, build_index
from stone import Meta, scan_tree, write_binary


@dataclass(frozen=True)
class Fault:
    """What to do to one response. `cut_after`: send that many body bytes, then drop the
    connection. `stall`: send half the body, then wait that long. `ignore_range`: answer a Range
    request with 200 and the whole file. `redirect`: answer 302 with that Location. `endless`:
    the file, then zeros for ever, with no Content-Length. `trickle`: one byte every that many
    seconds. `announce`: a Content-Length that many bytes larger than the body, which then
    stalls after the file."""

    status: int | None = None
    delay: float = 0.0
    cut_after: int | None = None
    corrupt: bool = False
    stall: float = 0.0
    ignore_range: bool = False
    redirect: str | None = None
    endless: bool = False
    trickle: float = 0.0
    announce: int = 0


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class LoopbackServer:
    root: Path
    delay: float = 0.0
    tls: ssl.SSLContext | None = None
    requests: list[Seen] = field(default_factory=list)
    port: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    _faults: dict[str, list[Fault]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    def url(self, relative: str = "") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{relative}"

    def fault(self, relative: str, *faults: Fault) -> None:
        """Queue faults for the next requests of `relative`, one per request, in order."""
        with self._lock:
            self._faults.setdefault(relative, []).extend(faults)

    def seen(self, relative: str) -> list[Seen]:
        with self._lock:
            return [request for request in self.requests if request.path == relative]

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._setup())
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="loopback-http", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the loopback server did not start")

    def stop(self) -> None:
        assert self._loop is not None and self._thread is not None and self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _setup(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        relative = request.match_info["tail"]
        with self._lock:
            self.requests.append(Seen(relative, dict(request.headers)))
            queued = self._faults.get(relative)
            fault = queued.pop(0) if queued else Fault()
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._respond(request, relative, fault)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _respond(
        self, request: web.Request, relative: str, fault: Fault
    ) -> web.StreamResponse:
        if self.delay or fault.delay:
            await asyncio.sleep(self.delay + fault.delay)
        if fault.status is not None:
            return web.Response(status=fault.status, text=f"fault {fault.status}\n")
        if fault.redirect is not None:
            return web.Response(status=302, headers={"Location": fault.redirect})
        path = self.root / relative
        if not path.is_file():
            return web.Response(status=404, text="not found\n")
        data = path.read_bytes()
        if fault.corrupt:
            flipped = bytearray(data)
            flipped[len(data) // 2] ^= 0xFF
            data = bytes(flipped)
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        mtime = int(path.stat().st_mtime)
        validators = {"ETag": etag, "Last-Modified": email.utils.formatdate(mtime, usegmt=True)}
        if _not_modified(request, etag, mtime):
            return web.Response(status=304, headers=validators)
        status, body, headers = 200, data, dict(validators)
        wanted = request.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-") and not fault.ignore_range:
            start = int(wanted[6:-1])
            if start >= len(data):
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            status, body = 206, data[start:]
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response = web.StreamResponse(status=status, headers=headers)
        if not fault.endless:
            response.content_length = len(body) + fault.announce
        await response.prepare(request)
        if fault.endless or fault.trickle or fault.announce:
            return await self._misbehave(response, body, fault)
        if fault.cut_after is not None:
            await response.write(body[: fault.cut_after])
            # close(), not abort(): what was written still goes out before the FIN.
            assert request.transport is not None
            request.transport.close()
            return response
        if fault.stall:
            await response.write(body[: len(body) // 2])
            await asyncio.sleep(fault.stall)
            body = body[len(body) // 2 :]
        await response.write(body)
        await response.write_eof()
        return response

    async def _misbehave(
        self, response: web.StreamResponse, body: bytes, fault: Fault
    ) -> web.StreamResponse:
        """Until the client goes away (the write then fails, or the server stops)."""
        if fault.trickle:
            for index in range(len(body)):
                await response.write(body[index : index + 1])
                await asyncio.sleep(fault.trickle)
            return response
        await response.write(body)
        if fault.announce:
            await asyncio.sleep(3600)
        zeros = bytes(1 << 16)
        while True:
            await response.write(zeros)


class Recorder:
    """A `FetchProgress` that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int | None]] = []
        self.threads: set[int] = set()

    def start(self, job: FetchJob, total_bytes: int | None) -> None:
        self._log("start", job, total_bytes)

    def advance(self, job: FetchJob, nbytes: int) -> None:
        self._log("advance", job, nbytes)

    def finish(self, job: FetchJob) -> None:
        self._log("finish", job, None)

    def _log(self, what: str, job: FetchJob, value: int | None) -> None:
        self.threads.add(threading.get_ident())
        self.events.append((what, job.package.name, value))

    def advances(self, name: str) -> list[int]:
        return [v or 0 for w, n, v in self.events if w == "advance" and n == name]

    def advanced(self, name: str) -> int:
        return sum(self.advances(name))


def _not_modified(request: web.Request, etag: str, mtime: int) -> bool:
    if "If-None-Match" in request.headers:
        return etag in (tag.strip() for tag in request.headers["If-None-Match"].split(","))
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    parsed = email.utils.parsedate_to_datetime(since)
    return parsed is not None and mtime <= int(parsed.timestamp())


def dead_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_package(
    repo: Path, name: str, *, size: int = 4096, release: int = 1, seed: int | None = None
) -> Path:
    """A binary package built from a scratch tree with one file of `size` random bytes
    (incompressible, so the `.stone` is about that big), written under `repo`."""
    rng = random.Random(seed if seed is not None else name)
    tree_dir = repo.parent / f".tree-{name}-{release}"
    (tree_dir / "share" / name).mkdir(parents=True, exist_ok=True)
    (tree_dir / "share" / name / "data").write_bytes(rng.randbytes(size))
    tree = scan_tree(tree_dir)
    meta = Meta(
        name=name,
        version="1.0",
        release=release,
        build_release=1,
        architecture="x86_64",
        summary=f"{name} for the fetch tests",
        description=name,
        source_id=name,
        homepage="https://example.org",
        licenses=("MPL-2.0",),
    )
    repo.mkdir(parents=True, exist_ok=True)
    path = repo / meta.filename
    with open(path, "wb") as out:
        write_binary(out, meta, tree.layout, tree.blobs)
    return path


def index_packages(repo: Path, source: str = "loopback") -> list[Package]:
    """Index `repo` and return its packages as a repository source offers them."""
    metas: list[Meta] = build_index(repo)
    assert (repo / INDEX_NAME).is_file()
    return [Package(id=meta.hash or "", meta=meta, source=source) for meta in metas]


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server context with a throw-away certificate for 127.0.0.1 that nobody trusts."""
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def serving(
    root: Path, delay: float = 0.0, tls: ssl.SSLContext | None = None
) -> Iterator[LoopbackServer]:
    server = LoopbackServer(root, delay=delay, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()

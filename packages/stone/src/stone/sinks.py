"""Where unpacked content goes: in memory, or files in a directory written in parallel.

A sink hands out one writer per file. The writer receives the file's bytes in pieces and is
committed only after the bytes matched their digest; otherwise it is discarded. `finish` waits
for any writes still in flight and raises the first error they met.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from .index import IndexEntry

# Small files are gathered and written by a pool while decompression goes on; a file larger
# than this streams straight to disk so memory stays bounded whatever the package size.
_GATHER_LIMIT = 1 << 20
_IN_FLIGHT_FILES = 64
_BATCH_FILES = 32


class ContentWriter(Protocol):
    """Receives the bytes of one file; `commit` once they are verified, else `discard`.

    Each piece is a view of bytes that never change: a writer may keep it past the call (the
    directory sink gathers a small file's pieces and writes them at `commit`)."""

    def write(self, data: memoryview) -> object: ...

    def commit(self) -> None: ...

    def discard(self) -> None: ...


class ContentSink(Protocol):
    def open(self, entry: IndexEntry) -> ContentWriter: ...

    def finish(self) -> None: ...


class _BufferWriter:
    def __init__(self, sink: MemorySink, digest: int):
        self._sink, self._digest, self._buffer = sink, digest, bytearray()

    def write(self, data: memoryview) -> object:
        self._buffer += data
        return None

    def commit(self) -> None:
        self._sink.files[self._digest] = bytes(self._buffer)

    def discard(self) -> None:
        self._buffer.clear()


class MemorySink:
    """Keeps every file in memory, by digest: for small packages and tests."""

    def __init__(self) -> None:
        self.files: dict[int, bytes] = {}

    def open(self, entry: IndexEntry) -> ContentWriter:
        return _BufferWriter(self, entry.digest)

    def finish(self) -> None:
        return None


class _NullWriter:
    def write(self, data: memoryview) -> object:
        return None

    def commit(self) -> None:
        return None

    def discard(self) -> None:
        return None


class NullSink:
    """Keeps nothing: for verifying an archive, or files a store already holds."""

    def open(self, entry: IndexEntry) -> ContentWriter:
        return _NullWriter()

    def finish(self) -> None:
        return None


_NULL_WRITER = _NullWriter()


class _FileWriter:
    """Gathers a small file's pieces for the pool, or streams a large one to its `.part`."""

    def __init__(self, sink: DirectorySink, name: str):
        self._sink, self._name = sink, name
        self._pieces: list[memoryview] = []
        self._gathered = 0
        self._stream: _Stream | None = None

    def write(self, data: memoryview) -> object:
        if self._stream is not None:
            self._sink.stream(self._stream.write, data)
            return None
        self._pieces.append(data)
        self._gathered += len(data)
        if self._gathered > _GATHER_LIMIT:
            self._stream = _Stream(self._sink, self._name)
            pieces, self._pieces = self._pieces, []
            self._sink.stream(self._stream.open)
            for piece in pieces:
                self._sink.stream(self._stream.write, piece)
        return None

    def commit(self) -> None:
        if self._stream is None:
            self._sink.submit(self._name, self._pieces)
        else:
            self._sink.stream(self._stream.publish)

    def discard(self) -> None:
        self._pieces = []
        if self._stream is not None:
            self._sink.stream(self._stream.remove)


class _Stream:
    """A large file written in order on the sink's stream thread while decompression goes on."""

    def __init__(self, sink: DirectorySink, name: str):
        self._sink, self._name = sink, name
        self._fd = -1

    def open(self) -> None:
        self._fd = self._sink.create_part(self._name)

    def write(self, data: memoryview) -> None:
        if self._fd < 0:
            return
        try:
            _write_all(self._fd, data)
        except BaseException:
            # Nothing partial may be published: the later steps find no file and do nothing.
            self.remove()
            raise

    def publish(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._sink.publish(self._name)

    def remove(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._sink.unlink_part(self._name)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def hex_name(digest: int) -> str:
    return f"{digest:032x}"


class DirectorySink:
    """Writes each file below an open directory, at the relative path `name_for(digest)`.

    Files are written as `<name>.<writer>.part` and renamed once verified, so a reader of the
    directory never sees a partial file under its final name. With `skip_existing`, a digest
    whose file is already there is verified but not written again (a content-addressed store).
    Parent directories are created as needed; none is followed if it is a symlink. New files get
    `file_mode` (a store makes them read-only: they are shared by hard links).

    `workers` threads write small files while decompression goes on; with `workers=0` every
    file is written in the calling thread as soon as it is verified (for a caller that runs
    several sinks in parallel processes, where threads only contend for the interpreter).
    `known_dirs` may be shared by successive sinks on one directory: parent directories found
    or made once are not checked again (one found missing later is made again).

    `skipped` holds the digests whose file was already there (verified, not written).
    """

    def __init__(
        self,
        directory_fd: int,
        *,
        name_for: Callable[[int], str] = hex_name,
        skip_existing: bool = False,
        workers: int = 2,
        file_mode: int = 0o644,
        known_dirs: set[str] | None = None,
    ):
        self._dir_fd = directory_fd
        self._file_mode = file_mode
        self._name_for = name_for
        self._skip_existing = skip_existing
        self._pool: ThreadPoolExecutor | None = None
        self._streamer: ThreadPoolExecutor | None = None
        if workers > 0:
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stone-sink")
            # One thread for large files, so their pieces land in order.
            self._streamer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stone-stream")
        self._slots = threading.BoundedSemaphore(_IN_FLIGHT_FILES)
        self._futures: list[Future[None]] = []
        self._made_dirs: set[str] = set() if known_dirs is None else known_dirs
        self._dirs_lock = threading.Lock()
        # Two sinks may write the same digest into one directory at once: each writes its own
        # `.part`, and the renames publish identical bytes.
        self._part_suffix = f".{os.getpid()}-{id(self):x}.part"
        self._batch: list[tuple[str, list[memoryview]]] = []
        self._batched = 0
        self.skipped: set[int] = set()

    def open(self, entry: IndexEntry) -> ContentWriter:
        name = self._name_for(entry.digest)
        # A parent made just now is empty: no need to look for the file in it.
        if self._skip_existing and not self._ensure_parent(name) and self._exists(name):
            self.skipped.add(entry.digest)
            return _NULL_WRITER
        return _FileWriter(self, name)

    def _exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self._dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def _ensure_parent(self, name: str) -> bool:
        """Make the parent directories `name` needs; True if its parent was made by this call."""
        parent = name.rpartition("/")[0]
        if not parent or parent in self._made_dirs:
            return False
        with self._dirs_lock:
            try:
                return self._make_parents(parent)
            except FileNotFoundError:
                self._forget_known()
                return self._make_parents(parent)

    def _forget_known(self) -> None:
        # A directory known from an earlier sink has gone since (an emptied store directory
        # is swept): forget what was known, to make it again.
        self._made_dirs.clear()

    def _make_parents(self, parent: str) -> bool:
        made = False
        partial = ""
        for part in parent.split("/"):
            partial = f"{partial}/{part}" if partial else part
            if partial not in self._made_dirs:
                try:
                    os.mkdir(partial, 0o755, dir_fd=self._dir_fd)
                    made = True
                except FileExistsError:
                    # Already there: fine if it is a real directory, refused if a symlink.
                    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                    os.close(os.open(partial, flags, dir_fd=self._dir_fd))
                    made = False
                self._made_dirs.add(partial)
        return made

    def create_part(self, name: str) -> int:
        self._ensure_parent(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        part = name + self._part_suffix
        try:
            return os.open(part, flags, self._file_mode, dir_fd=self._dir_fd)
        except FileNotFoundError:
            with self._dirs_lock:
                self._forget_known()
            self._ensure_parent(name)
            return os.open(part, flags, self._file_mode, dir_fd=self._dir_fd)

    def publish(self, name: str) -> None:
        os.rename(name + self._part_suffix, name, src_dir_fd=self._dir_fd, dst_dir_fd=self._dir_fd)

    def unlink_part(self, name: str) -> None:
        os.unlink(name + self._part_suffix, dir_fd=self._dir_fd)

    def submit(self, name: str, pieces: list[memoryview]) -> None:
        if self._pool is None:
            self._write_file(name, pieces)
            return
        # Small files go to the pool in batches: one task per file costs more than the file.
        self._batch.append((name, pieces))
        self._batched += sum(len(piece) for piece in pieces)
        if len(self._batch) >= _BATCH_FILES or self._batched >= _GATHER_LIMIT:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch, self._batched = self._batch, [], 0
        assert self._pool is not None
        self._slots.acquire()
        future = self._pool.submit(self._write_files, batch)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def _write_files(self, batch: list[tuple[str, list[memoryview]]]) -> None:
        for name, pieces in batch:
            self._write_file(name, pieces)

    def stream(self, step: Callable[..., None], *args: memoryview) -> None:
        """Queue one step of a large file's writing; steps run in the order queued."""
        if self._streamer is None:
            step(*args)
            return
        self._slots.acquire()
        future = self._streamer.submit(step, *args)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    def _write_file(self, name: str, pieces: list[memoryview]) -> None:
        fd = self.create_part(name)
        try:
            for piece in pieces:
                _write_all(fd, piece)
        except BaseException:
            os.close(fd)
            self.unlink_part(name)
            raise
        os.close(fd)
        self.publish(name)

    def __enter__(self) -> DirectorySink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the writes in flight and stop the threads."""
        for pool in (self._pool, self._streamer):
            if pool is not None:
                pool.shutdown(wait=True)

    def finish(self) -> None:
        self._flush()
        futures, self._futures = self._futures, []
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            raise errors[0]

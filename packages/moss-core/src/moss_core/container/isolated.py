"""A `TriggerRunner` that runs every trigger handler in its own container."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tempfile
from collections.abc import Generator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO

from moss_core.container.errors import ContainerError, ContainerLimitExceeded, ContainerTimeout
from moss_core.container.limits import NO_LIMITS, Limits
from moss_core.container.run import ContainerSession
from moss_core.container.setup import step
from moss_core.container.spec import Bind, ContainerSpec, Dev
from moss_core.triggers.commands import DeleteCommand, RunCommand
from moss_core.triggers.errors import HandlerKilled, UnsafePathError
from moss_core.triggers.run import CommandResult, delete_paths

ROOT_LINKS = (
    ("bin", "usr/bin"),
    ("sbin", "usr/sbin"),
    ("lib", "usr/lib"),
    ("lib64", "usr/lib"),
    ("lib32", "usr/lib32"),
)
"""The links at the top of the container root that make it look like an installed system."""

DEFAULT_ENV = {"PATH": "/usr/bin:/usr/sbin"}

DEFAULT_TIMEOUT = 600.0
"""Seconds a handler may run: generous, as a font cache or initramfs can take minutes."""

_KILLED = "and was killed, with every process it started"


class IsolatedRunner:
    """Runs each handler in a fresh container rooted at `isolation_dir`.

    The container sees `usr` read-write at `/usr` and `etc` at `/etc`, read-only unless
    `etc_writable` (system triggers); a fresh `/proc`, `/tmp` and minimal `/dev`; no network;
    nothing else of the host. The root itself is read-only: a handler writes only to `/usr`,
    `/tmp` and (system triggers) `/etc`. `env` is the handlers' whole environment. `delete`
    paths are taken as the container sees them: under `/usr`, or under `/etc` when writable.
    A handler still running after `timeout` seconds is killed with everything it started;
    `limits` bound what it uses. The commands of one `run` share a helper process
    (`ContainerSession`), each still in a container of its own; after `start`, every `run` uses
    the one helper it started, until `close` (or a command that could not run to its end). The
    root links are (re)created in `isolation_dir` now.
    """

    def __init__(
        self,
        isolation_dir: Path,
        usr: Path,
        etc: Path,
        *,
        etc_writable: bool = False,
        env: Mapping[str, str] = DEFAULT_ENV,
        timeout: float = DEFAULT_TIMEOUT,
        limits: Limits = NO_LIMITS,
    ) -> None:
        self.isolation_dir = isolation_dir
        self.timeout = timeout
        self.usr = usr
        self.etc = etc
        self.etc_writable = etc_writable
        self.spec = ContainerSpec(
            root=isolation_dir,
            binds=(
                Bind(usr, "/usr", read_only=False),
                Bind(etc, "/etc", read_only=not etc_writable),
            ),
            proc=True,
            dev=Dev.MINIMAL,
            tmpfs=("/tmp",),
            network=False,
            hostname="moss",
            workdir="/",
            env=env,
            read_only_root=True,
            limits=limits,
        )
        _make_root_links(isolation_dir)
        self._held: _Session | None = None

    def start(self) -> None:
        """Start the helper now, so that its start (an interpreter) overlaps what the caller
        does before the first command; `close` ends it."""
        if self._held is None:
            self._held = self._session()

    def close(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            held.close()

    def run(self, commands: Sequence[RunCommand]) -> Generator[CommandResult, None, None]:
        if not commands:
            return
        if self._held is not None:
            yield from self._run(self._held, commands)
            return
        with self._session() as session:
            yield from self._run(session, commands)

    def _session(self) -> _Session:
        return _Session(self.spec, self.timeout)

    def _run(
        self, held: _Session, commands: Sequence[RunCommand]
    ) -> Generator[CommandResult, None, None]:
        for command in commands:
            try:
                status = held.session.run([command.run, *command.args])
            except BaseException as error:
                # Not reused after a command that did not run to its end: its helper may be gone.
                if held is self._held:
                    self.close()
                if isinstance(error, ContainerError | ContainerTimeout | ContainerLimitExceeded):
                    raise _runner_error(error, self.timeout) from error
                raise
            yield CommandResult(status=status, stdout=_take(held.stdout), stderr=_take(held.stderr))

    def delete(self, command: DeleteCommand) -> None:
        for path in command.paths:
            parts = PurePosixPath("/", path).parts
            top, rest = (parts[1], "/".join(parts[2:])) if len(parts) > 1 else ("", "")
            if top == "usr":
                host_root = self.usr
            elif top == "etc" and self.etc_writable:
                host_root = self.etc
            elif top == "etc":
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
            else:
                raise UnsafePathError(path, self.isolation_dir)
            try:
                delete_paths(host_root, [rest])
            except UnsafePathError as error:
                raise UnsafePathError(path, host_root) from error


class _Session:
    """A helper and the files its commands write their output to, closed together."""

    def __init__(self, spec: ContainerSpec, timeout: float) -> None:
        with contextlib.ExitStack() as stack:
            self.stdout = stack.enter_context(tempfile.TemporaryFile())
            self.stderr = stack.enter_context(tempfile.TemporaryFile())
            self.session = stack.enter_context(
                ContainerSession(
                    spec,
                    stdin=subprocess.DEVNULL,
                    stdout=self.stdout,
                    stderr=self.stderr,
                    timeout=timeout,
                )
            )
            self._stack = stack.pop_all()

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()


def _runner_error(
    error: ContainerError | ContainerTimeout | ContainerLimitExceeded, timeout: float
) -> Exception:
    """What the runner contract raises when a container did not run a command to its end."""
    if isinstance(error, ContainerTimeout):
        return HandlerKilled(f"did not finish within {timeout:g} s {_KILLED}")
    if isinstance(error, ContainerLimitExceeded):
        return HandlerKilled(f"exceeded its {error.limit} {_KILLED}")
    # A command that cannot be started is an OSError.
    if error.errno is None:
        return OSError(str(error))
    return OSError(error.errno, str(error))


def _take(stream: IO[bytes]) -> str:
    """What the command just run wrote to `stream`, emptied for the next (which writes from
    the start: the helper's descriptor shares this file's offset)."""
    stream.seek(0)
    text = stream.read().decode(errors="replace")
    stream.seek(0)
    stream.truncate()
    return text


def _make_root_links(isolation_dir: Path) -> None:
    with step(f"root links in {isolation_dir}"):
        isolation_dir.mkdir(parents=True, exist_ok=True)
        for name, target in ROOT_LINKS:
            link = isolation_dir / name
            if link.is_symlink():
                if os.readlink(link) == target:
                    continue
                link.unlink()
            link.symlink_to(target)

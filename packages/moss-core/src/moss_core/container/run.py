"""Run commands in containers, and find out whether this machine lets us."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from moss_core.container.errors import ContainerError, ContainerLimitExceeded, ContainerTimeout
from moss_core.container.limits import exceeded
from moss_core.container.protocol import Reports, Request, encode_command, parse_report
from moss_core.container.spec import ContainerSpec
from moss_core.frozen import helper_argv

log = logging.getLogger(__name__)

Stream = int | IO[Any] | None
"""Like `subprocess`: `None` (inherit), a file descriptor, a file object, or `DEVNULL`."""


def _import_path() -> str:
    """The helper interpreter's import path: the directories holding `moss_core` and the
    seccomp binding (found without importing it: that loads libseccomp)."""
    directories = [str(Path(__file__).resolve().parents[2])]
    found = importlib.util.find_spec("pyseccomp")
    if found is not None and found.origin is not None:
        directories.append(str(Path(found.origin).parent))
    return os.pathsep.join(dict.fromkeys(directories))


class ContainerSession:
    """A helper process that runs commands one after another, each in a fresh container built
    as `spec` says.

    Each command's container is made for it alone, exactly as `run_container` makes one: its
    own namespaces, mounts, `/tmp`, cgroup and limits, its own `timeout`; when `run` returns,
    nothing of it runs any more, so the next command sees nothing it left but what it wrote
    to the writable trees the spec binds. What a session saves is the helper's start (an
    interpreter, its modules, the seccomp filter), paid once instead of once per command.
    Every command gets the same `stdin`, `stdout` and `stderr` (as for `run_container`).
    `probe` stops each command just before it would be executed (`namespaces_available`).
    `close` (or leaving a `with` block) ends the helper.
    """

    def __init__(
        self,
        spec: ContainerSpec,
        *,
        stdin: Stream = None,
        stdout: Stream = None,
        stderr: Stream = None,
        timeout: float | None = None,
        probe: bool = False,
    ) -> None:
        if subprocess.PIPE in (stdin, stdout, stderr):
            raise ValueError("a container session cannot create pipes: pass a file or descriptor")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self.spec = spec
        self.timeout = timeout
        status_read, status_write = os.pipe()
        control_read, control_write = os.pipe()
        try:
            request = Request(
                spec,
                status_fd=status_write,
                control_fd=control_read,
                parent=os.getpid(),
                probe=probe,
                timeout=timeout,
            )
            self._helper = subprocess.Popen(
                helper_argv(request.to_json()),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(status_write, control_read),
                # "/" so that nothing in the caller's directory can shadow a module of the helper.
                cwd="/",
                env={"PYTHONPATH": _import_path()},
            )
        except BaseException:
            os.close(status_read)
            os.close(control_write)
            raise
        finally:
            os.close(status_write)
            os.close(control_read)
        self._reports = os.fdopen(status_read, "rb")
        self._control: int | None = control_write

    def __enter__(self) -> ContainerSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def run(self, argv: Sequence[str]) -> int:
        """Run `argv` in a fresh container; return its exit status.

        A negative status is the signal that killed the command. `argv[0]` is looked up in
        `spec.env`'s `PATH` when it has no slash. Raises `ContainerError` if the container
        cannot be set up or the command cannot be executed; that is never confused with the
        command failing. After `timeout` seconds the whole container is killed and
        `ContainerTimeout` raised, once nothing of it runs any more. A command that fails or
        times out after exceeding one of `spec.limits` raises `ContainerLimitExceeded` naming
        that limit instead.
        """
        if not argv:
            raise ContainerError("spec", detail="no command to run")
        if self._control is None:
            raise ContainerError("helper", detail="the container session is closed")
        command = tuple(argv)
        reports = Reports()
        try:
            with contextlib.suppress(BrokenPipeError):  # the helper ended: its reports say why
                _write_all(self._control, encode_command(command))
            while reports.done is None and (line := self._reports.readline()):
                parse_report(reports, line)
        except BaseException:
            self._end(kill=True)
            raise
        for warning in reports.warnings:
            log.warning("container: %s", warning)
        if reports.errors:
            raise reports.errors[0]
        if reports.status is None:
            if reports.done is None:
                detail = f"the helper exited with status {self._end(kill=False)}"
            else:
                detail = f"the container's supervisor exited with status {reports.done}"
            raise ContainerError("helper", detail=f"{detail} without a report")
        if reports.status != 0 or reports.timed_out:
            limit = exceeded(self.spec.limits, reports.status, reports.hit)
            if limit is not None:
                raise ContainerLimitExceeded(" ".join(command), self.spec.limits.describe(limit))
        if reports.timed_out and self.timeout is not None:
            raise ContainerTimeout(" ".join(command), self.timeout)
        return reports.status

    def close(self) -> None:
        """End the helper: it exits once told there is nothing more to run."""
        self._end(kill=False)

    def _end(self, *, kill: bool) -> int:
        """Wait for the helper to exit (kill it first if `kill`); its exit status."""
        if self._control is not None:
            os.close(self._control)
            self._control = None
        try:
            if kill:
                self._helper.kill()
            return self._helper.wait()
        except BaseException:
            self._helper.kill()
            self._helper.wait()
            raise
        finally:
            self._reports.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def run_container(
    spec: ContainerSpec,
    argv: Sequence[str],
    *,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    timeout: float | None = None,
) -> int:
    """Run `argv` in a container built as `spec` says; return its exit status.

    Works as root and, through a user namespace, as an ordinary user; a `ContainerSession` of
    one command, whose `run` says what it returns and raises.
    """
    with ContainerSession(
        spec, stdin=stdin, stdout=stdout, stderr=stderr, timeout=timeout
    ) as session:
        return session.run(argv)


def namespaces_available() -> str | None:
    """None if containers work here for this user, else why not (to show or to skip on)."""
    with tempfile.TemporaryDirectory(prefix="moss-container-probe-") as root:
        spec = ContainerSpec(root=Path(root))
        streams = subprocess.DEVNULL
        try:
            with ContainerSession(
                spec, stdin=streams, stdout=streams, stderr=streams, probe=True
            ) as session:
                status = session.run(("probe",))
        except ContainerError as error:
            return str(error)
    if status != 0:
        return f"the container probe exited with status {status}"
    return None

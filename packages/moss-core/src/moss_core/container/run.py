"""Run a command in a container, and find out whether this machine lets us."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from moss_core.container.errors import ContainerError, ContainerLimitExceeded, ContainerTimeout
from moss_core.container.frozen import helper_argv
from moss_core.container.limits import exceeded
from moss_core.container.protocol import Request, parse_reports
from moss_core.container.spec import ContainerSpec

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

    A negative status is the signal that killed the command. Works as root and, through a user
    namespace, as an ordinary user. `argv[0]` is looked up in `spec.env`'s `PATH` when it has
    no slash. Raises `ContainerError` if the container cannot be set up or the command cannot
    be executed; that is never confused with the command failing. After `timeout` seconds the
    whole container is killed and `ContainerTimeout` raised, once nothing of it runs any more.
    A command that fails or times out after exceeding one of `spec.limits` raises
    `ContainerLimitExceeded` naming that limit instead.
    """
    if not argv:
        raise ContainerError("spec", detail="no command to run")
    if subprocess.PIPE in (stdin, stdout, stderr):
        raise ValueError("run_container cannot create pipes: pass a file or descriptor")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    streams = (stdin, stdout, stderr)
    return _run_helper(spec, tuple(argv), probe=False, streams=streams, timeout=timeout)


def namespaces_available() -> str | None:
    """None if containers work here for this user, else why not (to show or to skip on)."""
    with tempfile.TemporaryDirectory(prefix="moss-container-probe-") as root:
        spec = ContainerSpec(root=Path(root))
        streams = (subprocess.DEVNULL, subprocess.DEVNULL, subprocess.DEVNULL)
        try:
            status = _run_helper(spec, ("probe",), probe=True, streams=streams)
        except ContainerError as error:
            return str(error)
    if status != 0:
        return f"the container probe exited with status {status}"
    return None


def _run_helper(
    spec: ContainerSpec,
    argv: tuple[str, ...],
    *,
    probe: bool,
    streams: tuple[Stream, ...],
    timeout: float | None = None,
) -> int:
    read_end, write_end = os.pipe()
    try:
        request = Request(
            spec, argv, status_fd=write_end, parent=os.getpid(), probe=probe, timeout=timeout
        )
        helper = subprocess.Popen(
            helper_argv(request.to_json()),
            stdin=streams[0],
            stdout=streams[1],
            stderr=streams[2],
            pass_fds=(write_end,),
            # "/" so that nothing in the caller's directory can shadow a module of the helper.
            cwd="/",
            env={"PYTHONPATH": _import_path()},
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as report_pipe:
            data = report_pipe.read()
        returncode = helper.wait()
    except BaseException:
        helper.kill()
        helper.wait()
        raise
    reports = parse_reports(data)
    for warning in reports.warnings:
        log.warning("container: %s", warning)
    if reports.errors:
        raise reports.errors[0]
    if reports.status is None:
        raise ContainerError(
            "helper", detail=f"the helper exited with status {returncode} without a report"
        )
    if reports.status != 0 or reports.timed_out:
        limit = exceeded(spec.limits, reports.status, reports.hit)
        if limit is not None:
            raise ContainerLimitExceeded(" ".join(argv), spec.limits.describe(limit))
    if reports.timed_out and timeout is not None:
        raise ContainerTimeout(" ".join(argv), timeout)
    return reports.status

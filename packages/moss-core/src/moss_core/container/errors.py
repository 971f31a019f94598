"""Errors of container setup (never of the command run inside, which has an exit status)."""

from __future__ import annotations

import errno as errno_names
import os

from moss_core.errors import MossError


class ContainerError(MossError):
    """Preparing the container, or starting the command in it, failed.

    `step` names what was being done (`unshare`, `bind /src -> /dst`, `exec sh`, ...); `errno`
    is the failing system call's error number when there was one.
    """

    def __init__(self, step: str, errno: int | None = None, detail: str = "") -> None:
        reason = detail
        if errno is not None:
            name = errno_names.errorcode.get(errno, str(errno))
            reason = f"{os.strerror(errno)} ({name})" + (f": {detail}" if detail else "")
        super().__init__(f"container setup failed at {step}: {reason}")
        self.step = step
        self.errno = errno
        self.detail = detail


class ContainerTimeout(MossError):
    """The command ran past its time; its container (every process in it) was killed."""

    def __init__(self, command: str, seconds: float) -> None:
        super().__init__(f"{command} did not finish within {seconds:g} s; its container was killed")
        self.command = command
        self.seconds = seconds


class ContainerLimitExceeded(MossError):
    """The command failed, or ran past its time, after exceeding a resource limit (`limit`
    describes it: `memory limit (512 MiB)`); nothing of its container runs any more."""

    def __init__(self, command: str, limit: str) -> None:
        super().__init__(f"{command} exceeded its {limit}; its container was killed")
        self.command = command
        self.limit = limit

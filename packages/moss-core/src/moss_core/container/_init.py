"""The helper process `run_container` starts: `python -m moss_core.container._init <request>`.

A fresh interpreter is needed because unshare(CLONE_NEWUSER) refuses multi-threaded callers.
The helper enters new namespaces and writes the id maps; it then forks the container's PID 1,
which builds the filesystem and executes the command, while the helper waits to report its
status. Both die with their parent (PDEATHSIG), so killing the caller kills the container.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import sys

from moss_core.container import protocol, syscalls
from moss_core.container.errors import ContainerError
from moss_core.container.setup import prepare, step

_FAILED = 127

_RESTRICTIONS = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
    ("/proc/sys/user/max_user_namespaces", "0"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"),
)


def _restrictions() -> list[str]:
    """Settings of this machine that forbid or cripple namespaces for this user."""
    found: list[str] = []
    if os.geteuid() != 0:
        for path, forbidding in _RESTRICTIONS:
            try:
                with open(path, encoding="ascii") as setting:
                    value = setting.read().strip()
            except OSError:
                continue
            if value == forbidding:
                found.append(f"{path.removeprefix('/proc/sys/').replace('/', '.')}={value}")
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Seccomp:") and line.split()[1] != "0":
                    found.append("a seccomp filter is active")
    except OSError:
        pass
    return found


def _explained(error: ContainerError) -> ContainerError:
    if error.errno not in (errno.EPERM, errno.EACCES, errno.ENOSPC, errno.EINVAL):
        return error
    restrictions = _restrictions()
    if not restrictions:
        return error
    detail = "; ".join(filter(None, [error.detail, *restrictions]))
    return ContainerError(error.step, error.errno, detail)


def _enter_namespaces(request: protocol.Request) -> None:
    spec = request.spec
    uid, gid = os.geteuid(), os.getegid()
    rootless = uid != 0
    flags = syscalls.CLONE_NEWNS | syscalls.CLONE_NEWPID | syscalls.CLONE_NEWUTS
    flags |= syscalls.CLONE_NEWIPC
    if not spec.network:
        flags |= syscalls.CLONE_NEWNET
    if rootless:
        flags |= syscalls.CLONE_NEWUSER
    with step("unshare"):
        syscalls.unshare(flags)
    if rootless:
        with step("write uid/gid maps"):
            syscalls.map_ids(spec.uid, uid, spec.gid, gid)


def _pid1(request: protocol.Request, helper_alive: int) -> None:
    """Set the container up and execute the command; return only by raising."""
    with step("set parent-death signal"):
        syscalls.set_parent_death_signal(signal.SIGKILL)
    # The helper may have died before the line above; then its end of the pipe is closed.
    if select.select([helper_alive], [], [], 0)[0]:
        os._exit(_FAILED)
    os.close(helper_alive)
    spec = request.spec
    warning = prepare(spec)
    if warning is not None:
        protocol.send_warning(request.status_fd, warning)
    with step(f"workdir {spec.workdir}"):
        os.chdir(spec.workdir)
    if os.geteuid() == 0 and (spec.uid, spec.gid) != (0, 0):
        # No user namespace when started by root: switch ids for real.
        with step(f"switch to {spec.uid}:{spec.gid}"):
            os.setgroups([])
            os.setgid(spec.gid)
            os.setuid(spec.uid)
    os.umask(0o022)
    if request.probe:
        os._exit(0)
    with step(f"exec {request.argv[0]}"):
        os.execvpe(request.argv[0], list(request.argv), dict(spec.env))


def main(arguments: list[str]) -> int:
    request = protocol.Request.from_json(arguments[1])
    status_fd = request.status_fd
    os.set_inheritable(status_fd, False)
    # Die quietly on Ctrl-C, as the container dies with us.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    syscalls.set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != request.parent:
        return _FAILED
    try:
        _enter_namespaces(request)
    except ContainerError as error:
        protocol.send_error(status_fd, _explained(error))
        return _FAILED
    helper_alive, keep_open = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(keep_open)
        try:
            _pid1(request, helper_alive)
        except ContainerError as error:
            protocol.send_error(status_fd, _explained(error))
        # Whatever went wrong in the forked child, report it and exit: never return into main.
        except BaseException as error:
            protocol.send_error(status_fd, ContainerError("setup", detail=repr(error)))
        os._exit(_FAILED)
    os.close(helper_alive)
    _, wait_status = os.waitpid(pid, 0)
    protocol.send_status(status_fd, os.waitstatus_to_exitcode(wait_status))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The helper process a `ContainerSession` starts: `python -m moss_core.container._init <request>`.

A fresh interpreter is needed because unshare(CLONE_NEWUSER) refuses multi-threaded callers.
The helper stays in its caller's namespaces and runs the commands it is sent one after another,
each in a container of its own: for each, it forks a supervisor, which enters new namespaces
(with a user namespace when not root) and forks the container's PID 1. PID 1 builds the
filesystem, enters a user namespace of its own (whose id maps the supervisor writes from
outside), drops what the command may not do and executes it, while the supervisor waits to
report its status, or kills it when it runs past its time or a limit. Each dies with its parent
(PDEATHSIG), so killing the caller kills the helper and the container it is running.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import select
import signal
import sys
import time
from typing import TYPE_CHECKING

from moss_core.container import cgroups, privileges, protocol, syscalls
from moss_core.container.errors import ContainerError
from moss_core.container.limits import resource_limits
from moss_core.container.setup import prepare, step
from moss_core.container.watch import INTERVAL, Watch

if TYPE_CHECKING:
    from moss_core.container.confine import Confinement

_FAILED = 127

_LOADERS = 2
"""Processes a single-file executable runs between itself and the program (`_started_by`)."""

# What the supervisor tells PID 1 once its id maps are written.
_CGROUP = b"m"
_NO_CGROUP = b"n"

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
    """The namespaces the container is set up in. Root needs no user namespace for that:
    its command gets one later (`_confine`), which also locks every mount made here."""
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


def _exit_if_orphaned(from_supervisor: int) -> None:
    """Die with the supervisor (the parent-death signal is reset by every change of
    credentials, and the supervisor may have died before it was set)."""
    with step("set parent-death signal"):
        syscalls.set_parent_death_signal(signal.SIGKILL)
    if select.select([from_supervisor], [], [], 0)[0]:
        os._exit(_FAILED)


def _confine(
    request: protocol.Request,
    confinement: Confinement,
    rlimits: dict[bytes, list[tuple[int, int]]],
    from_supervisor: int,
    to_supervisor: int,
) -> None:
    """Enter the command's own user and mount namespaces, then drop what it does not need.

    The mount namespace is made in the new user namespace, so the kernel locks every mount
    copied into it: no read-only, `nosuid` or `nodev` flag can be cleared, no mount removed
    to uncover what is below it. The supervisor, outside, writes the id maps.
    """
    with step("unshare the command's user namespace"):
        syscalls.unshare(syscalls.CLONE_NEWUSER | syscalls.CLONE_NEWNS)
    os.write(to_supervisor, b"u")
    os.close(to_supervisor)
    # Mapped, and in the container's cgroup or not: the resource limits to set depend on it.
    mapped = os.read(from_supervisor, 1)
    if mapped not in rlimits:
        os._exit(_FAILED)
    _exit_if_orphaned(from_supervisor)
    confinement.drop_capabilities()
    spec = request.spec
    with step(f"workdir {spec.workdir}"):
        os.chdir(spec.workdir)
    if os.geteuid() == 0 and (spec.uid, spec.gid) != (0, 0):
        with step(f"switch to {spec.uid}:{spec.gid}"):
            os.setgroups([])
            os.setgid(spec.gid)
            os.setuid(spec.uid)
    _exit_if_orphaned(from_supervisor)
    confinement.restrict()
    # Last, in the command's user namespace and as its user: the process limit counts the
    # processes of that user in that namespace, so root mapped to itself is bounded too. After
    # the seccomp filter, whose loading compiles it (libseccomp allocates): under a data limit
    # below what this interpreter already uses, that allocation would fail.
    for limit, value in rlimits[mapped]:
        with step(f"resource limit {limit}"):
            resource.setrlimit(limit, (value, value))


def _pid1(
    request: protocol.Request,
    argv: tuple[str, ...],
    confinement: Confinement,
    rlimits: dict[bytes, list[tuple[int, int]]],
    from_supervisor: int,
    to_supervisor: int,
) -> None:
    """Set the container up and execute the command; return only by raising."""
    _exit_if_orphaned(from_supervisor)
    spec = request.spec
    warning = prepare(spec)
    if warning is not None:
        protocol.send_warning(request.status_fd, warning)
    _confine(request, confinement, rlimits, from_supervisor, to_supervisor)
    os.umask(0o022)
    if request.probe:
        os._exit(0)
    # Python ignores these; an ignored signal stays ignored across exec, and the command must
    # meet a closed pipe and its file size limit as any program started by a shell does.
    for number in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)
    with step(f"exec {argv[0]}"):
        os.execvpe(argv[0], list(argv), dict(spec.env))


def _map_command(
    request: protocol.Request, pid: int, from_pid1: int, proc_fd: int, *, as_root: bool
) -> bool:
    """Write the maps of PID 1's user namespace once it has made it; False if it never did.

    `proc_fd` is the host's `/proc`, opened before PID 1 existed: PID 1 shares this process's
    mount namespace, and its `pivot_root` moved this process's root too.
    """
    if os.read(from_pid1, 1) != b"u":
        return False
    uid_map, gid_map = privileges.inner_id_maps(request.spec, as_root=as_root)
    with step("write the command's uid/gid maps"):
        syscalls.write_id_maps(pid, uid_map.line(), gid_map.line(), proc_fd=proc_fd)
    return True


def _kill(pid: int, proc_fd: int) -> None:
    """Kill PID 1 and, at once, every other process of its PID namespace.

    Killed, PID 1 ends the namespace only once it has run to its exit, and thousands of forking
    processes competing for the CPU can delay that for seconds while they fork on. So a process
    of the namespace also sends `SIGKILL` to all the others (`kill(-1)`): the kernel reaches
    each in one pass, and none of them can fork afterwards.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    try:
        namespace = os.open(f"{pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
    except OSError:
        return  # PID 1 is gone: the kernel is killing the rest
    try:
        syscalls.setns(namespace, syscalls.CLONE_NEWPID)
        killer = os.fork()
    except OSError:
        return  # the namespace no longer takes processes: the kernel is killing the rest
    finally:
        os.close(namespace)
    if killer == 0:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        os._exit(0)
    os.waitpid(killer, 0)


def _wait(
    pid: int, proc_fd: int, timeout: float | None, watch: Watch
) -> tuple[int, bool, str | None]:
    """PID 1's wait status, whether it was killed for running past `timeout` seconds, and the
    limit it was killed for being past, if any, by what `watch` measures every `INTERVAL`.

    Killing PID 1 kills every process of its PID namespace, and it is reaped only after
    them: when this returns, nothing of the container runs any more.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    past: str | None = None

    def arm() -> None:
        delays = [INTERVAL] if watch.active else []
        if deadline is not None:
            delays.append(deadline - time.monotonic())
        if delays:
            # Zero would disarm the timer.
            signal.setitimer(signal.ITIMER_REAL, max(min(delays), 1e-6))

    def look(_signum: int, _frame: object) -> None:
        nonlocal timed_out, past
        if deadline is not None and time.monotonic() >= deadline:
            timed_out = True
        else:
            past = watch.check()
        if timed_out or past is not None:
            _kill(pid, proc_fd)
        else:
            arm()

    signal.signal(signal.SIGALRM, look)
    arm()
    _, wait_status = os.waitpid(pid, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
    return wait_status, timed_out, past


def _started_by(parent: int) -> bool:
    """Whether the process that asked for this helper still runs it (not, say, init after
    moss died). A single-file moss (`make dist`) runs each program under two loaders of its
    own, staticx's and then PyInstaller's, each waiting for the next: there the asker is the
    parent of the first."""
    ancestor = os.getppid()
    if ancestor == parent:
        return True
    if "STATICX_BUNDLE_DIR" not in os.environ:
        return False
    for _ in range(_LOADERS):
        try:
            with open(f"/proc/{ancestor}/stat", "rb") as stat:
                # The process's parent is the field after the command's closing parenthesis.
                ancestor = int(stat.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if ancestor == parent:
            return True
    return False


def main(arguments: list[str]) -> int:
    request = protocol.Request.from_json(arguments[1])
    status_fd = request.status_fd
    os.set_inheritable(status_fd, False)
    os.set_inheritable(request.control_fd, False)
    # Die quietly on Ctrl-C, as the container dies with us.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    syscalls.set_parent_death_signal(signal.SIGKILL)
    if not _started_by(request.parent):
        return _FAILED
    try:
        # Imported here, so that a missing libseccomp is reported like any set-up failure.
        from moss_core.container.confine import Confinement

        confinement = Confinement.of(privileges.policy_for(request.spec))
    except ContainerError as error:
        protocol.send_error(status_fd, _explained(error))
        return _FAILED
    helper = os.getpid()
    with os.fdopen(request.control_fd, "rb") as commands:
        for line in commands:
            argv = protocol.decode_command(line)
            # A process of its own for each command: unshare(CLONE_NEWPID) puts only the
            # caller's first child in the new PID namespace as its PID 1, and once that one
            # has exited the namespace takes no other process; PID 1's `pivot_root` moves the
            # root of every process of its mount namespace, and a user namespace is never
            # left. So the helper enters none of them: a fresh supervisor per command makes
            # them, and its container, its cgroup and the disk use it is held to begin with
            # it and end with it, as though the helper had been started for that command
            # alone. What the helper keeps is what a start costs: the interpreter, its
            # modules, the seccomp filter.
            supervisor = os.fork()
            if supervisor == 0:
                os._exit(_supervise(request, argv, confinement, helper))
            _, wait_status = os.waitpid(supervisor, 0)
            protocol.send_done(status_fd, os.waitstatus_to_exitcode(wait_status))
    return 0


def _supervise(
    request: protocol.Request, argv: tuple[str, ...], confinement: Confinement, helper: int
) -> int:
    """Run `argv` in a fresh container, in a process forked for it; never return into `main`."""
    status_fd = request.status_fd
    try:
        syscalls.set_parent_death_signal(signal.SIGKILL)
        if os.getppid() != helper:
            return _FAILED  # the helper died before the signal was set
        # Made while the host's cgroup and other filesystems are still this process's to see.
        cgroup = cgroups.make(request.spec.limits)
        watch = Watch.begin(request.spec)
        try:
            return _run(request, argv, confinement, cgroup, watch)
        finally:
            watch.close()
            cgroup.remove()
    # Whatever went wrong, report it and exit.
    except ContainerError as error:
        protocol.send_error(status_fd, _explained(error))
    except BaseException as error:
        protocol.send_error(status_fd, ContainerError("setup", detail=repr(error)))
    return _FAILED


def _run(
    request: protocol.Request,
    argv: tuple[str, ...],
    confinement: Confinement,
    cgroup: cgroups.Cgroup,
    watch: Watch,
) -> int:
    status_fd = request.status_fd
    # Decided now: in the user namespace it may enter, an ordinary user is root too.
    as_root = os.geteuid() == 0
    _enter_namespaces(request)
    limits = request.spec.limits
    # PID 1 learns with its id maps whether it made it into the cgroup (`_CGROUP`) or not.
    rlimits = {
        _CGROUP: resource_limits(limits, cgroup.enforced),
        _NO_CGROUP: resource_limits(limits, frozenset()),
    }
    from_supervisor, to_pid1 = os.pipe()
    from_pid1, to_supervisor = os.pipe()
    proc_fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(to_pid1)
        os.close(from_pid1)
        os.close(proc_fd)
        watch.close()
        try:
            _pid1(request, argv, confinement, rlimits, from_supervisor, to_supervisor)
        except ContainerError as error:
            protocol.send_error(status_fd, _explained(error))
        # Whatever went wrong in the forked child, report it and exit: never return into main.
        except BaseException as error:
            protocol.send_error(status_fd, ContainerError("setup", detail=repr(error)))
        os._exit(_FAILED)
    os.close(from_supervisor)
    os.close(to_supervisor)
    # Before PID 1 runs anything of the command: it waits for the id maps below.
    in_cgroup = cgroup.add(pid)
    try:
        mapped = _map_command(request, pid, from_pid1, proc_fd, as_root=as_root)
    except ContainerError as error:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        protocol.send_error(status_fd, _explained(error))
        return _FAILED
    if mapped:
        with contextlib.suppress(BrokenPipeError):
            os.write(to_pid1, _CGROUP if in_cgroup else _NO_CGROUP)
        # The kernel exempts real uid 0 from RLIMIT_NPROC: without the cgroup's `pids.max`,
        # only counting bounds root's processes.
        if as_root and limits.processes is not None and "processes" not in cgroup.enforced:
            watch.count_processes(pid, proc_fd)
            # Ahead of whatever runs in the container, a fork bomb too, when its timer fires.
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    else:
        watch.close()
    wait_status, timed_out, past = _wait(pid, proc_fd, request.timeout if mapped else None, watch)
    os.close(to_pid1)
    status = os.waitstatus_to_exitcode(wait_status)
    hit = cgroup.hit() | ({past} if past is not None else set())
    protocol.send_status(status_fd, status, timed_out=timed_out, hit=frozenset(hit))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

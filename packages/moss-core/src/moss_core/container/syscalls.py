"""Thin ctypes wrappers over the Linux calls Python's `os` module lacks (on 3.11).

Each wrapper raises `OSError` carrying the call's errno and the path(s) involved, like `os` does.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1 << 10
MS_NODIRATIME = 1 << 11
MS_BIND = 1 << 12
MS_REC = 1 << 14
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24

MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38

# pivot_root has no glibc wrapper. Newer architectures share the generic syscall table.
_SYS_PIVOT_ROOT = {
    "x86_64": 155,
    "i386": 217,
    "i686": 217,
    "aarch64": 41,
    "riscv64": 41,
    "loongarch64": 41,
    "armv7l": 218,
    "ppc64le": 203,
    "ppc64": 203,
    "s390x": 217,
}

_libc = ctypes.CDLL(None, use_errno=True)

_libc.unshare.argtypes = [ctypes.c_int]
_libc.unshare.restype = ctypes.c_int
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.setns.restype = ctypes.c_int
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.mount.restype = ctypes.c_int
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.umount2.restype = ctypes.c_int
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.sethostname.restype = ctypes.c_int
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.prctl.restype = ctypes.c_int
_libc.syscall.restype = ctypes.c_long


def _check(result: int, filename: str | None = None, filename2: str | None = None) -> None:
    if result == -1:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), filename, None, filename2)


def _encode(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move this process into new namespaces (`CLONE_NEW*` flags)."""
    _check(_libc.unshare(flags))


def setns(fd: int, nstype: int) -> None:
    """Enter the namespace open as `fd` (for a PID namespace: this process's next children)."""
    _check(_libc.setns(fd, nstype))


def mount(
    source: str | None,
    target: str,
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    """mount(2); `source` is reported with the error when given, else `target`."""
    result = _libc.mount(_encode(source), _encode(target), _encode(fstype), flags, _encode(data))
    _check(result, target if source is None else source, None if source is None else target)


def map_ids(uid: int, outside_uid: int, gid: int, outside_gid: int) -> None:
    """Map one user and one group id of a new user namespace (the caller's) to ids outside it,
    with supplementary groups denied (without that, an unprivileged process may not write its
    gid_map)."""
    with open("/proc/self/setgroups", "w", encoding="ascii") as setgroups:
        setgroups.write("deny")
    write_id_maps("self", f"{uid} {outside_uid} 1\n", f"{gid} {outside_gid} 1\n")


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    _check(_libc.umount2(_encode(target), flags), target)


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2); `ENOSYS` on an architecture whose syscall number is not known here."""
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS), new_root)
    result = _libc.syscall(
        ctypes.c_long(number),
        ctypes.c_char_p(os.fsencode(new_root)),
        ctypes.c_char_p(os.fsencode(put_old)),
    )
    _check(result, new_root, put_old)


def sethostname(name: str) -> None:
    """sethostname(2) in the current UTS namespace."""
    encoded = name.encode()
    _check(_libc.sethostname(encoded, len(encoded)))


def set_parent_death_signal(signal: int) -> None:
    """prctl(PR_SET_PDEATHSIG): deliver `signal` to this process when its parent thread exits."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0))


def drop_bounding_capability(capability: int) -> None:
    """prctl(PR_CAPBSET_DROP): no program this process executes can hold `capability`."""
    _check(_libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0))


def set_no_new_privs() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS): execve never grants privileges (set-id bits, file caps)."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))


def write_id_maps(
    pid: int | str, uid_map: str, gid_map: str, *, proc_fd: int | None = None
) -> None:
    """Write the uid and gid maps of the user namespace of process `pid` (or `self`), found in
    `/proc` or in the proc filesystem open as `proc_fd`."""
    for name, text in (("uid_map", uid_map), ("gid_map", gid_map)):
        # Each must arrive in a single write(2).
        path = f"{pid}/{name}" if proc_fd is not None else f"/proc/{pid}/{name}"
        fd = os.open(path, os.O_WRONLY, dir_fd=proc_fd)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

"""What a container's command may do: capabilities, id maps, system calls. Pure.

The command always runs in a user namespace of its own, also when moss or boulder run as
root; its capabilities then hold only over that namespace. On top of that it keeps only the
capabilities a trigger handler or a build uses (owning and writing files as root, switching
ids), runs with `no_new_privs`, and a seccomp filter refuses the calls it never needs: the
ones that reach the kernel or other processes (modules, kexec, keys, bpf, perf, mounts,
namespaces, the clock, swap, reboot). `moss_core.container._init` applies what this module
decides.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from moss_core.container.spec import ContainerSpec

# Capability numbers from linux/capability.h.
CAPABILITIES = {
    "chown": 0,
    "dac_override": 1,
    "dac_read_search": 2,
    "fowner": 3,
    "fsetid": 4,
    "kill": 5,
    "setgid": 6,
    "setuid": 7,
    "setpcap": 8,
    "linux_immutable": 9,
    "net_bind_service": 10,
    "net_broadcast": 11,
    "net_admin": 12,
    "net_raw": 13,
    "ipc_lock": 14,
    "ipc_owner": 15,
    "sys_module": 16,
    "sys_rawio": 17,
    "sys_chroot": 18,
    "sys_ptrace": 19,
    "sys_pacct": 20,
    "sys_admin": 21,
    "sys_boot": 22,
    "sys_nice": 23,
    "sys_resource": 24,
    "sys_time": 25,
    "sys_tty_config": 26,
    "mknod": 27,
    "lease": 28,
    "audit_write": 29,
    "audit_control": 30,
    "setfcap": 31,
    "mac_override": 32,
    "mac_admin": 33,
    "syslog": 34,
    "wake_alarm": 35,
    "block_suspend": 36,
    "audit_read": 37,
    "perfmon": 38,
    "bpf": 39,
    "checkpoint_restore": 40,
}

KEPT_CAPABILITIES = frozenset(
    ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "net_bind_service")
)
"""What a handler or build running as (namespace) root uses: owning, reading and writing any
file of its tree, keeping set-id bits it sets, signalling its own processes, switching to
another user, and binding a low port in its own network namespace."""

DENIED_SYSCALLS = (
    # The kernel itself.
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "syslog",
    "quotactl",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "lookup_dcookie",
    "uselib",
    "vhangup",
    # Kernel interfaces with a long record of privilege escalations, unused by builds.
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    # Files by handle bypass the mount tree the container is confined to.
    "open_by_handle_at",
    "name_to_handle_at",
    # The filesystem is fixed once the container is set up.
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # No joining other namespaces (new ones: see NEW_NAMESPACE_FLAGS).
    "setns",
)

TRACING_SYSCALLS = ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp")
"""Denied to trigger handlers, which never debug anything; builds keep them for test suites
(the PID namespace already hides every process outside the container)."""

NEW_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x00000080,  # CLONE_NEWTIME
)
"""`clone` and `unshare` flags refused: a fresh user namespace would hand back every
capability, and the others need one. `unshare(CLONE_FS)` and the like stay allowed."""

DENIED_IOCTLS = (0x5412, 0x541C)
"""`TIOCSTI` and `TIOCLINUX`, which push input into a terminal: refused, so that a command
sharing the user's terminal cannot type into the shell that started moss."""

ENOSYS_SYSCALLS = ("clone3",)
"""Answered `ENOSYS`, not `EPERM`: its flags live in memory a filter cannot read, and C
libraries fall back to `clone`, whose flags it can."""

FULL_RANGE = 4294967295
"""Every id but the reserved -1: the width of an identity map."""


@dataclass(frozen=True)
class IdMap:
    """One line of a `uid_map` or `gid_map`: `count` ids from `inside` appear as `outside`."""

    inside: int
    outside: int
    count: int

    def line(self) -> str:
        return f"{self.inside} {self.outside} {self.count}\n"


@dataclass(frozen=True)
class Policy:
    """What the command of one container may do."""

    kept_capabilities: frozenset[int]
    denied_syscalls: tuple[str, ...]
    enosys_syscalls: tuple[str, ...]
    denied_namespace_flags: tuple[int, ...]
    denied_ioctls: tuple[int, ...]
    refusal: int = errno.EPERM


def policy_for(spec: ContainerSpec) -> Policy:
    """The policy `spec`'s command runs under."""
    denied = DENIED_SYSCALLS if spec.tracing else DENIED_SYSCALLS + TRACING_SYSCALLS
    return Policy(
        kept_capabilities=frozenset(CAPABILITIES[name] for name in KEPT_CAPABILITIES),
        denied_syscalls=denied,
        enosys_syscalls=ENOSYS_SYSCALLS,
        denied_namespace_flags=NEW_NAMESPACE_FLAGS,
        denied_ioctls=DENIED_IOCTLS,
    )


def dropped_capabilities(policy: Policy, last_capability: int) -> list[int]:
    """The capabilities to remove from the bounding set of a kernel whose highest is given."""
    return [cap for cap in range(last_capability + 1) if cap not in policy.kept_capabilities]


def inner_id_maps(spec: ContainerSpec, *, as_root: bool) -> tuple[IdMap, IdMap]:
    """The uid and gid maps of the namespace the command runs in, seen from the one outside.

    Started by root, the map is the identity over every id: container root is real root and
    staged files keep their owners, but its capabilities hold only inside the namespace.
    Started by an ordinary user, the namespace outside holds only `spec`'s ids, mapped to
    that user; the inner one maps them to themselves.
    """
    if as_root:
        return IdMap(0, 0, FULL_RANGE), IdMap(0, 0, FULL_RANGE)
    return IdMap(spec.uid, spec.uid, 1), IdMap(spec.gid, spec.gid, 1)


READ_ONLY_PROC = (
    "sys", "sysrq-trigger", "irq", "bus", "fs", "scsi", "acpi", "asound", "driver", "mtrr",
    "pressure", "latency_stats", "timer_stats",
)  # fmt: skip
"""`/proc` entries made read-only (those present): as real root (the identity map) a command
could otherwise write kernel settings whose only permission check is the file's owner, such
as `sys/kernel/core_pattern` or `scsi/scsi`. docker and podman guard the same entries."""

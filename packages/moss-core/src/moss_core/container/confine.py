"""Apply a `privileges.Policy` to the current process, just before it executes the command.

`Confinement.of` does all its reading and building while the host's filesystem is still the
process's root; after `pivot_root`, nothing that needs a file of the host (a Python module, an
encoding) is left to do.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from moss_core.container import syscalls
from moss_core.container.errors import ContainerError
from moss_core.container.privileges import Policy, dropped_capabilities
from moss_core.container.setup import step

try:
    import pyseccomp
except (ImportError, RuntimeError) as error:  # RuntimeError: the binding found no libseccomp
    raise ContainerError(
        "load seccomp", detail=f"{error} (the seccomp filter needs pyseccomp and libseccomp2)"
    ) from error

_LAST_CAP = "/proc/sys/kernel/cap_last_cap"

# The compat ABIs a 64-bit kernel also accepts system calls through: without them in the filter
# the kernel would kill any 32-bit program (a multilib test suite) outright.
_COMPAT_ARCHES = {
    pyseccomp.Arch.X86_64: (pyseccomp.Arch.X86, pyseccomp.Arch.X32),
    pyseccomp.Arch.AARCH64: (pyseccomp.Arch.ARM,),
}


@dataclass(frozen=True)
class Confinement:
    """A policy made ready to apply: the capabilities to drop and the filter to load."""

    dropped: tuple[int, ...]
    seccomp: pyseccomp.SyscallFilter

    @classmethod
    def of(cls, policy: Policy) -> Confinement:
        with step("read the highest capability"):
            fd = os.open(_LAST_CAP, os.O_RDONLY)
            try:
                last_capability = int(os.read(fd, 32))
            finally:
                os.close(fd)
        with step("build the seccomp filter"):
            seccomp = build_filter(policy)
        return cls(tuple(dropped_capabilities(policy, last_capability)), seccomp)

    def drop_capabilities(self) -> None:
        """Shrink the bounding set to the policy's capabilities; needs `CAP_SETPCAP` (held in
        a fresh user namespace). Programs executed afterwards, even as root, get no others."""
        for capability in self.dropped:
            with step(f"drop capability {capability}"):
                syscalls.drop_bounding_capability(capability)

    def restrict(self) -> None:
        """Set `no_new_privs` and load the seccomp filter; irreversible."""
        with step("set no_new_privs"):
            syscalls.set_no_new_privs()
        with step("load the seccomp filter"):
            self.seccomp.load()


def build_filter(policy: Policy) -> pyseccomp.SyscallFilter:
    """The policy as a seccomp filter: allow by default, refuse what the policy names."""
    refuse = pyseccomp.ERRNO(policy.refusal)
    fltr = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
    for arch in _COMPAT_ARCHES.get(pyseccomp.system_arch(), ()):
        fltr.add_arch(arch)
    for name in policy.denied_syscalls:
        _add(fltr, refuse, name)
    for name in policy.enosys_syscalls:
        _add(fltr, pyseccomp.ERRNO(errno.ENOSYS), name)
    for flag in policy.denied_namespace_flags:
        for name in ("clone", "unshare"):
            _add(fltr, refuse, name, pyseccomp.Arg(0, pyseccomp.MASKED_EQ, flag, flag))
    for request in policy.denied_ioctls:
        _add(fltr, refuse, "ioctl", pyseccomp.Arg(1, pyseccomp.MASKED_EQ, 0xFFFFFFFF, request))
    return fltr


def _add(fltr: pyseccomp.SyscallFilter, action: int, name: str, *args: pyseccomp.Arg) -> None:
    # libseccomp knows every name on every architecture it supports (as a pseudo-number where
    # the architecture lacks the call); a name it does not know at all is older than the call.
    if pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name) < 0:
        return
    fltr.add_rule(action, name, *args)

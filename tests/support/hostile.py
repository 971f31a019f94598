"""A hostile program for trigger handlers and build scripts: it tries to reach the host.

`build_attacker` compiles it statically (so it runs in any root); run as
`attack RESULTS MAJOR MINOR WRITABLE_DIR READ_ONLY_DIR...`, it tries each attack once and
writes one `name errno` line per attack to RESULTS (0: the attack worked). `check_refused`
says which attacks were not refused as they must be.
"""

from __future__ import annotations

import errno
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static FILE *out;

static void record(const char *name, const char *what, long result) {
    fprintf(out, "%s%s %d\n", name, what, result < 0 ? errno : 0);
}

int main(int argc, char **argv) {
    if (argc < 5) return 2;
    out = fopen(argv[1], "w");
    if (!out) return 3;
    dev_t disk = makedev(atoi(argv[2]), atoi(argv[3]));
    char node[4096];
    snprintf(node, sizeof node, "%s/disk", argv[4]);
    record("mknod-block", "", mknod(node, S_IFBLK | 0600, disk));
    snprintf(node, sizeof node, "%s/mem", argv[4]);
    record("mknod-char", "", mknod(node, S_IFCHR | 0600, makedev(1, 1)));
    snprintf(node, sizeof node, "%s/disk", argv[4]);
    record("mount-block", "", mount(node, "/tmp", "ext4", 0, NULL));
    record("mount-tmpfs", "", mount("none", "/tmp", "tmpfs", 0, NULL));
    for (int i = 5; i < argc; i++) {
        char file[4096];
        record("remount-rw:", argv[i], mount(NULL, argv[i], NULL, MS_REMOUNT | MS_BIND, NULL));
        snprintf(file, sizeof file, "%s/pwned", strcmp(argv[i], "/") ? argv[i] : "");
        int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        record("write:", argv[i], fd);
        if (fd >= 0) close(fd);
        record("umount:", argv[i], umount2(argv[i], MNT_DETACH));
    }
    record("sysrq", "", open("/proc/sysrq-trigger", O_WRONLY));
    record("core-pattern", "", open("/proc/sys/kernel/core_pattern", O_WRONLY));
    record("init_module", "", syscall(SYS_init_module, NULL, 0, ""));
    record("finit_module", "", syscall(SYS_finit_module, -1, "", 0));
    record("delete_module", "", syscall(SYS_delete_module, "no_such_module", 0));
    record("kexec_load", "", syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL));
    record("keyctl", "", syscall(SYS_keyctl, 0, -3, 0));
    record("add_key", "", syscall(SYS_add_key, "user", "moss", "x", 1, -3));
    record("bpf", "", syscall(SYS_bpf, 0, NULL, 0));
    record("perf_event_open", "", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    record("open_by_handle_at", "", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
    record("swapon", "", syscall(SYS_swapon, "/nonexistent", 0));
    record("reboot", "", syscall(SYS_reboot, 0, 0, 0, NULL));
    record("unshare-user", "", unshare(CLONE_NEWUSER));
    record("setns", "", syscall(SYS_setns, -1, 0));
    record("chroot", "", chroot("/tmp"));
    fclose(out);
    return 0;
}
"""

REFUSED = errno.EPERM
"""What every attack but the writes must meet: EPERM, from seccomp or a missing capability."""


def build_attacker(directory: Path) -> Path:
    """The attack program, compiled statically into `directory` (skips without gcc)."""
    if platform.machine() != "x86_64":
        pytest.skip("the attack program's system calls are written for x86_64")
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the attack program")
    source = directory / "attack.c"
    source.write_text(SOURCE)
    binary = directory / "attack"
    subprocess.run(["gcc", "-static", "-O1", "-o", str(binary), str(source)], check=True)
    return binary


def host_disk() -> tuple[int, int]:
    """The major and minor numbers of a block device of this machine (the first listed)."""
    devices = sorted(os.listdir("/sys/dev/block")) if os.path.isdir("/sys/dev/block") else []
    if not devices:
        return 8, 0
    major, minor = devices[0].split(":")
    return int(major), int(minor)


def parse(text: str) -> dict[str, int]:
    results: dict[str, int] = {}
    for line in text.splitlines():
        name, _, number = line.rpartition(" ")
        results[name] = int(number)
    return results


ATTACKS = (
    "mknod-block", "mknod-char", "mount-block", "mount-tmpfs", "sysrq", "core-pattern",
    "init_module", "finit_module", "delete_module", "kexec_load", "keyctl", "add_key", "bpf",
    "perf_event_open", "open_by_handle_at", "swapon", "reboot", "unshare-user", "setns", "chroot",
)  # fmt: skip


def not_refused(results: dict[str, int], read_only: list[str]) -> dict[str, int]:
    """The attacks that were not refused as they must be, with what they met (-1: never
    tried); empty when all were refused."""
    expected = dict.fromkeys(ATTACKS, REFUSED)
    for path in read_only:
        expected[f"remount-rw:{path}"] = REFUSED
        expected[f"umount:{path}"] = REFUSED
        expected[f"write:{path}"] = errno.EROFS
    # Read-only: opening them for writing fails before any permission check (a kernel built
    # without the magic SysRq key has no `/proc/sysrq-trigger` at all).
    expected["sysrq"] = expected["core-pattern"] = errno.EROFS
    absent = {"sysrq": errno.ENOENT}
    return {
        name: results.get(name, -1)
        for name, want in expected.items()
        if results.get(name) not in (want, absent.get(name, want))
    }

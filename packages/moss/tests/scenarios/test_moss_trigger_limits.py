"""Hostile trigger handlers, run by root: they cannot reach the host, and one that never ends, or
exceeds its memory, process, file size or disk limit, is killed with the transaction aborted, one
line naming the limit, and nothing changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import hostile
import pytest

from moss_core.container import Limits, cgroups, namespaces_available, syscalls

from .helpers import MossRun, make_stone

SLEEPER_SOURCE = r"""
#include <unistd.h>
int main(void) {
    if (fork() == 0) setsid();
    for (;;) pause();
}
"""


HOG_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
int main(void) {
    for (;;) {
        char *chunk = malloc(8 << 20);
        if (chunk == NULL) return 1;
        memset(chunk, 1, 8 << 20);
    }
}
"""

# Every process forks until the kernel refuses, then waits: bounded, it ends by the timeout.
FORK_BOMB_SOURCE = r"""
#include <unistd.h>
int main(void) {
    for (;;) if (fork() < 0) pause();
}
"""

# As a shell does: run a writer, and report a writer killed by signal N as status 128 + N.
BIG_FILE_SOURCE = r"""
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    static char block[1 << 16];
    int status;
    memset(block, 'x', sizeof block);
    if (fork() == 0) {
        int fd = open("/usr/share/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        for (int i = 0; i < 64; i++) write(fd, block, sizeof block);
        _exit(0);
    }
    wait(&status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
"""


# Writes 1 MiB files into the staged /usr without end: each is far below the file size limit.
DISK_FILLER_SOURCE = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char block[1 << 20];
    char name[64];
    memset(block, 'x', sizeof block);
    for (int i = 0;; i++) {
        snprintf(name, sizeof name, "/usr/share/fill-%d", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, block, sizeof block) != sizeof block) return 1;
        close(fd);
    }
}
"""


@pytest.fixture(autouse=True)
def _containers() -> None:
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"trigger isolation needs namespaces: {reason}")


def _trigger(name: str, run: str, args: list[str], scope: str) -> dict[str, bytes]:
    quoted = ", ".join(f'"{a}"' for a in args)
    text = (
        f"name: {name}\ndescription: test trigger\nhandlers:\n  go:\n    run: {run}\n"
        f'    args: [{quoted}]\npaths:\n  "{run}":\n    handlers: [go]\n'
    )
    return {f"share/moss/triggers/{scope}.d/{name}.yaml": text.encode()}


def _state_lines(moss: MossRun) -> list[str]:
    return [line for line in moss("state", "list").out.splitlines() if line.startswith("State #")]


@pytest.mark.skipif(os.geteuid() != 0, reason="the attacks that matter are those made as root")
def test_hostile_handlers_run_by_root_cannot_reach_the_host(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    attack = hostile.build_attacker(tmp_path).read_bytes()
    major, minor = str(hostile.host_disk()[0]), str(hostile.host_disk()[1])
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    tx_read_only = ["/etc", "/"]
    tx_args = ["/usr/share/tx-results", major, minor, "/usr/share", *tx_read_only]
    # System handlers may write the system's /etc; the container root stays read-only.
    sys_args = ["/etc/sys-results", major, minor, "/etc", "/"]
    package = make_stone(
        packages,
        "attacker",
        {
            "bin/attack": attack,
            **_trigger("tx-attack", "/usr/bin/attack", tx_args, "tx"),
            **_trigger("sys-attack", "/usr/bin/attack", sys_args, "sys"),
        },
    )
    result = moss("install", str(package))
    assert result.code == 0, result.err

    tx_results = root / "usr/share/tx-results"
    assert hostile.not_refused(hostile.parse(tx_results.read_text()), tx_read_only) == {}
    sys_results = root / "etc/sys-results"
    assert hostile.not_refused(hostile.parse(sys_results.read_text()), ["/"]) == {}
    # Staged files made by a handler belong to root, as those of the package do.
    assert tx_results.stat().st_uid == 0 and sys_results.stat().st_uid == 0
    assert sorted(os.listdir(root / "etc")) == ["passwd", "sys-results"]
    assert not (root / "usr/share/disk").exists() and not (root / "usr/share/mem").exists()
    assert not (root / ".moss/root/isolation/pwned").exists()


def _static_program(tmp_path: Path, name: str, source: str) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build a static trigger handler")
    (tmp_path / f"{name}.c").write_text(source)
    program = tmp_path / name
    subprocess.run(
        ["gcc", "-static", "-O1", "-o", str(program), str(tmp_path / f"{name}.c")], check=True
    )
    return program.read_bytes()


def _install_failing_handler(
    root: Path, packages: Path, moss: MossRun, program: bytes, settings: str
) -> str:
    """Install a package whose transaction trigger runs `program` under `settings` (moss.kdl)
    on a root holding `base`; check that the transaction aborted with nothing changed and no
    process left; return moss's one-line error."""
    # Bytes after an ELF program's segments are never loaded: they make this test's handler
    # one no test running beside it has, so that only its own processes are looked for.
    program += f"moss-test-{os.getpid()}-{time.monotonic_ns()}".encode()
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/moss.kdl").write_text(settings)
    base = make_stone(packages, "base", {"share/base": b"base"})
    assert moss("install", str(base)).code == 0
    installed = moss("list", "installed").out
    hostile = make_stone(
        packages,
        "hostile",
        {"bin/handler": program, **_trigger("hostile", "/usr/bin/handler", [], "tx")},
    )

    result = moss("install", str(hostile))

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    # Nothing claims success.
    assert result.out.rstrip().endswith("Running transaction triggers"), result.out
    assert "Installed" not in result.out
    assert (root / "usr/.stateID").read_text().strip() == "1"
    assert not (root / "usr/bin/handler").exists()
    assert _state_lines(moss) == ["State #1 - Install (active)"]
    assert moss("list", "installed").out == installed
    assert not (root / ".moss/root/staging/usr").exists()
    # Every process the handler started, in a session of its own or not, was killed with it.
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _runs(pid, program)]
    return result.err


def _runs(pid: str, handler: bytes) -> bool:
    try:
        return (
            os.readlink(f"/proc/{pid}/exe") == "/usr/bin/handler"
            and Path(f"/proc/{pid}/exe").read_bytes() == handler
        )
    except OSError:
        return False


def _killed(limit: str) -> str:
    return (
        f"moss: error: trigger 'hostile': '/usr/bin/handler' exceeded its {limit}"
        " and was killed, with every process it started\n"
    )


def _cgroup_enforces(limit: str) -> None:
    cgroup = cgroups.make(Limits(memory=1 << 30, processes=1000))
    enforced = cgroup.enforced
    cgroup.remove()
    if limit not in enforced:
        pytest.skip(f"no cgroup bounds {limit} here: with resource limits only the program knows")


def test_a_handler_that_never_ends_is_killed_and_the_transaction_aborted(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    sleeper = _static_program(tmp_path, "sleeper", SLEEPER_SOURCE)
    error = _install_failing_handler(root, packages, moss, sleeper, "trigger-timeout 1\n")
    assert "'hostile'" in error and "did not finish within 1 s" in error


@pytest.mark.skipif(os.geteuid() != 0, reason="the limits that matter are those of root")
def test_a_handler_past_its_memory_limit(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    _cgroup_enforces("memory")
    hog = _static_program(tmp_path, "hog", HOG_SOURCE)
    error = _install_failing_handler(root, packages, moss, hog, "trigger-memory 32\n")
    assert error == _killed("memory limit (32 MiB)")


@pytest.mark.skipif(os.geteuid() != 0, reason="the limits that matter are those of root")
def test_a_fork_bomb_handler_is_bounded_by_the_process_limit(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    # The kernel exempts real uid 0 from RLIMIT_NPROC: as root, only a cgroup bounds this.
    _cgroup_enforces("processes")
    bomb = _static_program(tmp_path, "bomb", FORK_BOMB_SOURCE)
    settings = "trigger-timeout 2\ntrigger-processes 32\n"
    error = _install_failing_handler(root, packages, moss, bomb, settings)
    assert error == _killed("process limit (32)")


@pytest.mark.skipif(os.geteuid() != 0, reason="the limits that matter are those of root")
def test_a_handler_writing_past_the_file_size_limit(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    writer = _static_program(tmp_path, "writer", BIG_FILE_SOURCE)
    error = _install_failing_handler(root, packages, moss, writer, "trigger-file-size 1\n")
    assert error == _killed("file size limit (1 MiB)")
    assert not (root / "usr/share/big").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the limits that matter are those of root")
def test_a_handler_filling_the_disk_with_small_files(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    filler = _static_program(tmp_path, "filler", DISK_FILLER_SOURCE)
    settings = "trigger-file-size 2\ntrigger-disk 8\n"
    error = _install_failing_handler(root, packages, moss, filler, settings)
    assert error == _killed("disk limit (8 MiB)")


@pytest.mark.skipif(os.geteuid() != 0, reason="the limits that matter are those of root")
def test_a_handler_filling_the_disk_leaves_the_reserve(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    # The root on a 160 MiB filesystem of the test's own, so that no disk of this machine fills.
    filler = _static_program(tmp_path, "filler", DISK_FILLER_SOURCE)
    syscalls.mount("tmpfs", str(root), "tmpfs", 0, "size=160m,mode=755")
    try:
        settings = "trigger-file-size 2\ntrigger-disk 0\ntrigger-disk-reserve 100\n"
        error = _install_failing_handler(root, packages, moss, filler, settings)
        stats = os.statvfs(root)
    finally:
        syscalls.umount2(str(root), syscalls.MNT_DETACH)
    assert error == _killed("disk limit (100 MiB must stay free)")
    assert stats.f_bavail * stats.f_frsize > 64 << 20

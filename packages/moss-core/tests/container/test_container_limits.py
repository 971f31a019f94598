"""Resource limits of a container: a memory hog, a fork bomb, an oversized file and a disk
filler, each bounded, by a cgroup of the container's own where one can be made and by resource
limits (and, for root's processes, counting) where not.

Each real test runs both ways. The cgroup way skips, saying why, where no cgroup can be made;
the resource-limit way runs everywhere: as root it hides the cgroup filesystems first (a
mount namespace of its own, as inside a container that has none), so that root, mapped to
itself in the command's user namespace, is checked to be bounded too. The disk is filled on a
tmpfs of the test's own, never this machine's disk.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from moss_core.container import Bind, ContainerSpec, Limits, cgroups, syscalls
from moss_core.container.limits import (
    MIB,
    DiskUse,
    disk_exceeded,
    exceeded,
    from_mib,
    processes_exceeded,
    resource_limits,
)

MakeSpec = Callable[..., ContainerSpec]

# Keeps every child it can fork (sleeping), then reports how many it got: at most the limit.
FORK_BOMB = """\
import os, time
forked = 0
try:
    while forked < 10000:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        forked += 1
except OSError as error:
    print(forked, error.errno)
    raise SystemExit(3)
"""

# Every process forks without end, saying so for each child: root without a cgroup, whom the
# kernel exempts from RLIMIT_NPROC, is never refused.
EXPONENTIAL_FORK_BOMB = """\
import os
while True:
    if os.fork():
        os.write(1, b".")
"""

# Writes 1 MiB files without end: each is below the file size limit, together they fill a disk.
DISK_FILLER = "i=0; while head -c 1048576 /dev/zero > /disk/f$i; do i=$((i + 1)); done"

HOG = "chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))\n"

# Run commands one after another in containers of one session and print how each ended, as a
# JSON list: the status or the error; with "hide", in a mount namespace of its own without any
# cgroup filesystem.
RUN = """\
import json, subprocess, sys
from moss_core.container import ContainerSession, ContainerSpec, syscalls
from moss_core.errors import MossError
if sys.argv[4] == "hide":
    syscalls.unshare(syscalls.CLONE_NEWNS)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    with open("/proc/self/mountinfo") as mountinfo:
        mounts = [line.split() for line in mountinfo]
    for fields in reversed(mounts):
        if fields[fields.index("-") + 1] in ("cgroup", "cgroup2"):
            syscalls.umount2(fields[4], syscalls.MNT_DETACH)
spec = ContainerSpec.from_json(sys.argv[1])
ended = []
with open(sys.argv[3], "wb") as out, ContainerSession(
    spec, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=30
) as session:
    for argv in json.loads(sys.argv[2]):
        try:
            ended.append({"status": session.run(argv)})
        except MossError as error:
            ended.append({"error": str(error)})
print(json.dumps(ended))
"""


def _cgroup_enforces() -> frozenset[str]:
    cgroup = cgroups.make(Limits(memory=1 << 30, processes=1000))
    try:
        return cgroup.enforced
    finally:
        cgroup.remove()


@pytest.fixture(params=["cgroup", "rlimit"])
def way(request: pytest.FixtureRequest) -> str:
    enforced = _cgroup_enforces()
    if request.param == "cgroup" and enforced != {"memory", "processes"}:
        pytest.skip(
            "no cgroup with the memory and pids controllers can be made here"
            f" (enforced: {sorted(enforced) or 'none'}; needs root or a delegated cgroup)"
        )
    if request.param == "rlimit" and enforced and os.geteuid() != 0:
        pytest.skip("a delegated cgroup is in use, and only root can hide it")
    return str(request.param)


RunLimited = Callable[..., tuple[dict[str, object], str]]
RunInTurn = Callable[..., tuple[list[dict[str, object]], str]]


@pytest.fixture
def run_in_turn(way: str, tmp_path: Path) -> RunInTurn:
    """Run each command (an argv) in turn in one session with the spec, the way under test;
    (how each ended, their output)."""

    def run(spec: ContainerSpec, *commands: list[str]) -> tuple[list[dict[str, object]], str]:
        output = tmp_path / "output"
        hide = "hide" if way == "rlimit" and os.geteuid() == 0 else "show"
        arguments = [spec.to_json(), json.dumps(commands), str(output), hide]
        completed = subprocess.run(
            [sys.executable, "-c", RUN, *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout), output.read_text(errors="replace")

    return run


@pytest.fixture
def run_limited(run_in_turn: RunInTurn) -> RunLimited:
    """Run argv in the spec the way under test; (how it ended, its output)."""

    def run(spec: ContainerSpec, *argv: str) -> tuple[dict[str, object], str]:
        ended, output = run_in_turn(spec, list(argv))
        return ended[0], output

    return run


def _leftover_cgroups() -> list[str]:
    """Container cgroups whose supervisor is gone: those of a live one belong to a container
    still running (another moss or boulder on this machine may be running one)."""
    found = []
    for directory, subdirectories, _ in os.walk("/sys/fs/cgroup"):
        found += [
            os.path.join(directory, d)
            for d in subdirectories
            if d.startswith("moss-container-")
            and not os.path.exists(f"/proc/{d.removeprefix('moss-container-')}")
        ]
    return found


def test_a_memory_hog_is_stopped(make_spec: MakeSpec, run_limited: Callable, way: str) -> None:
    spec = make_spec(limits=Limits(memory=64 * MIB))
    ended, output = run_limited(spec, "python3", "-c", HOG)
    if way == "cgroup":
        assert ended == {
            "error": f"python3 -c {HOG} exceeded its memory limit (64 MiB);"
            " its container was killed"
        }
    else:
        # An allocation is refused: the program fails in its own way, the limit unnamed.
        assert ended == {"status": 1}
        assert "MemoryError" in output
    assert _leftover_cgroups() == []


def test_a_fork_bomb_is_bounded(make_spec: MakeSpec, run_limited: Callable, way: str) -> None:
    if way == "rlimit" and os.geteuid() == 0:
        pytest.skip("root without a cgroup: test_a_fork_bomb_of_root_without_a_cgroup")
    spec = make_spec(limits=Limits(processes=16))
    ended, output = run_limited(spec, "python3", "-c", FORK_BOMB)
    forked, error = map(int, output.split())
    # The command itself is one of the 16.
    assert (forked, error) == (15, 11)
    if way == "cgroup":
        assert ended == {
            "error": f"python3 -c {FORK_BOMB} exceeded its process limit (16);"
            " its container was killed"
        }
    else:
        assert ended == {"status": 3}
    assert _leftover_cgroups() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root is exempt from RLIMIT_NPROC")
def test_a_fork_bomb_of_root_without_a_cgroup_is_stopped(
    make_spec: MakeSpec, run_limited: Callable, way: str
) -> None:
    # The kernel never refuses a fork here: the supervisor counts the container's processes and
    # stops it, all of it at once, soon after it has more than its limit.
    if way != "rlimit":
        pytest.skip("with a cgroup, pids.max refuses the fork: test_a_fork_bomb_is_bounded")
    spec = make_spec(limits=Limits(processes=64))
    ended, output = run_limited(spec, "python3", "-c", EXPONENTIAL_FORK_BOMB)
    assert ended == {
        "error": f"python3 -c {EXPONENTIAL_FORK_BOMB} exceeded its process limit (64);"
        " its container was killed"
    }
    # Each "." is a process forked (but the last few, killed before they said so): the
    # container was stopped soon after it had 64.
    assert 0 < len(output) <= 4 * 64, output
    assert set(output) == {"."}


def test_each_command_of_a_session_is_held_to_its_own_limits(
    make_spec: MakeSpec, run_in_turn: RunInTurn, way: str
) -> None:
    # What one command ran into (the cgroup's event counts, the processes counted) is never
    # put down to the next.
    if way == "rlimit" and os.geteuid() != 0:
        pytest.skip("an ordinary user's fork bomb is refused, not stopped: nothing to carry over")
    spec = make_spec(limits=Limits(memory=64 * MIB, processes=64))
    bomb = FORK_BOMB if way == "cgroup" else EXPONENTIAL_FORK_BOMB
    busy = "for i in 1 2 3 4 5 6 7 8; do sleep 0.2 & done; wait; exit 3"
    ended, _ = run_in_turn(
        spec, ["python3", "-c", bomb], ["sh", "-c", busy], ["python3", "-c", HOG]
    )
    killed = "its container was killed"
    assert ended[0] == {"error": f"python3 -c {bomb} exceeded its process limit (64); {killed}"}
    assert ended[1] == {"status": 3}
    if way == "cgroup":
        assert ended[2] == {
            "error": f"python3 -c {HOG} exceeded its memory limit (64 MiB); {killed}"
        }
    else:
        assert ended[2] == {"status": 1}
    assert _leftover_cgroups() == []


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a 256 MiB filesystem of its own (a tmpfs, mounted for the test): what
    fills it fills no disk of this machine, and nothing else writes to it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a filesystem of the test's own needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    syscalls.mount("tmpfs", str(disk), "tmpfs", 0, "size=256m,mode=755")
    try:
        yield disk
    finally:
        syscalls.umount2(str(disk), syscalls.MNT_DETACH)


def _disk_spec(make_spec: MakeSpec, disk: Path, limits: Limits) -> ContainerSpec:
    # The root read-only: the small disk is the only tree the container writes, and so the only
    # filesystem watched (this machine's own disk is shared with whatever else runs).
    return make_spec(Bind(disk, "/disk", read_only=False), read_only_root=True, limits=limits)


def test_many_small_files_past_the_disk_limit(
    make_spec: MakeSpec, run_limited: Callable, small_disk: Path
) -> None:
    limits = Limits(file_size=2 * MIB, disk=8 * MIB)
    ended, _ = run_limited(_disk_spec(make_spec, small_disk, limits), "sh", "-c", DISK_FILLER)
    assert ended == {
        "error": f"sh -c {DISK_FILLER} exceeded its disk limit (8 MiB); its container was killed"
    }
    written = len(list(small_disk.iterdir()))
    assert 8 <= written <= 128, written


def test_a_disk_filler_leaves_the_reserve_free(
    make_spec: MakeSpec, run_limited: Callable, small_disk: Path
) -> None:
    limits = Limits(file_size=2 * MIB, disk_reserve=192 * MIB)
    ended, _ = run_limited(_disk_spec(make_spec, small_disk, limits), "sh", "-c", DISK_FILLER)
    assert ended == {
        "error": f"sh -c {DISK_FILLER} exceeded its disk limit (192 MiB must stay free);"
        " its container was killed"
    }
    stats = os.statvfs(small_disk)
    # Of the reserve, at most what the filler wrote between two looks is gone.
    assert stats.f_bavail * stats.f_frsize > 128 * MIB


def test_disk_limits_held_are_not_in_the_way(
    make_spec: MakeSpec, run_limited: Callable, small_disk: Path
) -> None:
    limits = Limits(disk=16 * MIB, disk_reserve=64 * MIB)
    script = "for i in 1 2 3 4; do head -c 1048576 /dev/zero > /disk/f$i; done; cat /disk/* | wc -c"
    ended = run_limited(_disk_spec(make_spec, small_disk, limits), "sh", "-c", script)
    assert ended == ({"status": 0}, "4194304\n")


def test_each_command_of_a_session_has_its_own_disk_limit(
    make_spec: MakeSpec, run_in_turn: RunInTurn, small_disk: Path
) -> None:
    # Each is held to what it writes itself: together the first two write more than the limit.
    # The pauses let the supervisor look while the commands run.
    limits = Limits(file_size=8 * MIB, disk=8 * MIB)
    spec = _disk_spec(make_spec, small_disk, limits)
    write = "head -c 6291456 /dev/zero > /disk/{}; sleep 0.3"
    ended, _ = run_in_turn(
        spec,
        ["sh", "-c", write.format("a")],
        ["sh", "-c", write.format("b")],
        ["sh", "-c", DISK_FILLER],
    )
    assert ended == [
        {"status": 0},
        {"status": 0},
        {"error": f"sh -c {DISK_FILLER} exceeded its disk limit (8 MiB); its container was killed"},
    ]


def test_a_file_past_the_size_limit(make_spec: MakeSpec, run_limited: Callable) -> None:
    spec = make_spec(limits=Limits(file_size=MIB))
    script = "head -c 2000000 /dev/zero > /tmp/big"
    ended, output = run_limited(spec, "sh", "-c", script)
    assert ended == {
        "error": f"sh -c {script} exceeded its file size limit (1 MiB); its container was killed"
    }
    assert "File size limit exceeded" in output


def test_a_tmpfs_holds_no_more_than_the_memory_limit(
    make_spec: MakeSpec, run_limited: Callable, way: str
) -> None:
    spec = make_spec(limits=Limits(memory=8 * MIB))
    for target in ("/tmp", "/dev/shm"):
        script = f"head -c 9000000 /dev/zero > {target}/x"
        ended, output = run_limited(spec, "sh", "-c", script)
        if way == "cgroup" and "error" in ended:
            # Its pages are charged to the cgroup, which may fill first.
            assert ended == {
                "error": f"sh -c {script} exceeded its memory limit (8 MiB);"
                " its container was killed"
            }
        else:
            assert ended == {"status": 1}
            assert "No space left on device" in output


def test_limits_held_are_not_in_the_way(make_spec: MakeSpec, run_limited: Callable) -> None:
    spec = make_spec(limits=Limits(memory=256 * MIB, processes=64, file_size=4 * MIB))
    script = "head -c 3000000 /dev/zero > /tmp/file && wc -c < /tmp/file && ulimit -c"
    assert run_limited(spec, "sh", "-c", script) == ({"status": 0}, "3000000\n0\n")


def test_the_command_meets_closed_pipes_and_signals_as_from_a_shell(
    make_spec: MakeSpec, run_limited: Callable
) -> None:
    # Python ignores SIGPIPE; `yes` must not inherit that and write forever.
    assert run_limited(make_spec(), "sh", "-c", "yes | head -n 2") == ({"status": 0}, "y\ny\n")


def test_resource_limits_stand_in_for_what_the_cgroup_does_not_enforce() -> None:
    limits = Limits(memory=64 * MIB, processes=16, file_size=MIB)
    core, fsize = (resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, MIB)
    data, nproc = (resource.RLIMIT_DATA, 64 * MIB), (resource.RLIMIT_NPROC, 16)
    assert resource_limits(limits, frozenset()) == [core, fsize, data, nproc]
    assert resource_limits(limits, frozenset({"processes"})) == [core, fsize, data]
    assert resource_limits(limits, frozenset({"memory", "processes"})) == [core, fsize]
    assert resource_limits(Limits(), frozenset()) == [core]


def test_which_limit_a_failure_is_put_down_to() -> None:
    limits = Limits(memory=MIB, processes=8, file_size=MIB, disk=MIB, disk_reserve=MIB)
    assert exceeded(limits, -signal.SIGKILL, frozenset({"disk", "memory"})) == "disk"
    assert exceeded(limits, -signal.SIGKILL, frozenset({"disk_reserve"})) == "disk_reserve"
    assert exceeded(limits, -signal.SIGKILL, frozenset({"memory"})) == "memory"
    assert exceeded(limits, 1, frozenset({"processes"})) == "processes"
    assert exceeded(limits, -signal.SIGXFSZ, frozenset()) == "file_size"
    assert exceeded(limits, 128 + signal.SIGXFSZ, frozenset()) == "file_size"
    assert exceeded(limits, 1, frozenset()) is None
    assert exceeded(Limits(), -signal.SIGXFSZ, frozenset({"memory"})) is None


def test_the_disk_limit_is_growth_and_the_reserve_free_space() -> None:
    limits = Limits(disk=10 * MIB, disk_reserve=100 * MIB)
    start = [DiskUse(used=500 * MIB, free=1000 * MIB), DiskUse(used=0, free=200 * MIB)]
    # The growth of all filesystems adds up; what another process frees is not a credit.
    assert disk_exceeded(limits, start, start) is None
    grown = [DiskUse(505 * MIB, 995 * MIB), DiskUse(5 * MIB, 195 * MIB)]
    assert disk_exceeded(limits, start, grown) is None
    grown = [DiskUse(505 * MIB, 995 * MIB), DiskUse(5 * MIB + 1, 195 * MIB)]
    assert disk_exceeded(limits, start, grown) == "disk"
    freed = [DiskUse(400 * MIB, 1100 * MIB), DiskUse(11 * MIB, 189 * MIB)]
    assert disk_exceeded(limits, start, freed) == "disk"
    # Free space below the reserve on a filesystem that grew.
    low = [DiskUse(500 * MIB, 99 * MIB), DiskUse(MIB, 199 * MIB)]
    assert disk_exceeded(limits, start, low) is None
    low = [DiskUse(501 * MIB, 99 * MIB), DiskUse(0, 200 * MIB)]
    assert disk_exceeded(limits, start, low) == "disk_reserve"
    assert disk_exceeded(Limits(disk=10 * MIB), start, low) is None
    assert disk_exceeded(Limits(), start, grown) is None


def test_processes_past_the_limit() -> None:
    assert not processes_exceeded(Limits(processes=16), 16)
    assert processes_exceeded(Limits(processes=16), 17)
    assert not processes_exceeded(Limits(), 100000)


def test_what_a_container_writes_to() -> None:
    binds = (Bind(Path("/usr"), "/usr"), Bind(Path("/s/usr"), "/usr", read_only=False))
    spec = ContainerSpec(root=Path("/r"), binds=binds)
    assert spec.writable_trees == (Path("/r"), Path("/s/usr"))
    spec = ContainerSpec(root=Path("/r"), binds=binds, read_only_root=True)
    assert spec.writable_trees == (Path("/s/usr"),)


def test_limits_as_settings_give_them() -> None:
    assert from_mib(0.5, 100, 2) == Limits(MIB // 2, 100, 2 * MIB)
    assert from_mib(0, 0, 0) == Limits()
    assert from_mib(0, 0, 0, 3, 1) == Limits(disk=3 * MIB, disk_reserve=MIB)
    assert Limits(disk=3 * MIB).describe("disk") == "disk limit (3 MiB)"
    assert Limits(disk_reserve=MIB).describe("disk_reserve") == "disk limit (1 MiB must stay free)"
    assert Limits(memory=3 * MIB).describe("memory") == "memory limit (3 MiB)"
    assert Limits(file_size=1000).describe("file_size") == "file size limit (1000 bytes)"
    assert Limits(processes=9).describe("processes") == "process limit (9)"
    with pytest.raises(ValueError, match="processes"):
        Limits(processes=0)
    spec = ContainerSpec(root=Path("/r"), binds=(Bind(Path("/usr"), "/usr"),), limits=Limits(1))
    assert ContainerSpec.from_json(spec.to_json()) == spec
    spec = ContainerSpec(root=Path("/r"), limits=Limits(disk=2, disk_reserve=3))
    assert ContainerSpec.from_json(spec.to_json()) == spec

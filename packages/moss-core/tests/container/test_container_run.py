"""Real containers, as the current user (root in the test environment)."""

from __future__ import annotations

import errno
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from moss_core.container import (
    Bind,
    ContainerError,
    ContainerSession,
    ContainerSpec,
    ContainerTimeout,
    Dev,
    Overlay,
    run_container,
    syscalls,
)
from moss_core.container.run import _import_path

from .conftest import processes

MakeSpec = Callable[..., ContainerSpec]
RunOutput = Callable[..., tuple[int, str, str]]

# Exits with the errno of writing `argv[1]` (0 if the write worked).
WRITE_PROBE = """\
import sys
try:
    with open(sys.argv[1], "w") as f:
        f.write("written inside")
except OSError as e:
    sys.exit(e.errno)
"""


def test_exit_status_is_propagated(make_spec: MakeSpec) -> None:
    assert run_container(make_spec(), ["sh", "-c", "exit 7"]) == 7
    assert run_container(make_spec(), ["true"]) == 0


def test_command_is_pid_1_and_root_with_the_given_hostname(
    make_spec: MakeSpec, run_output: RunOutput
) -> None:
    spec = make_spec(hostname="box")
    status, out, _ = run_output(spec, "sh", "-c", "echo $$; id -u; id -g; hostname")
    assert (status, out) == (0, "1\n0\n0\nbox\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="without a user namespace only as root")
def test_other_ids_inside(make_spec: MakeSpec, run_output: RunOutput, tmp_path: Path) -> None:
    owned_by_root = tmp_path / "owned"
    owned_by_root.mkdir(mode=0o755)
    spec = make_spec(Bind(owned_by_root, "/owned", read_only=False), uid=65534, gid=65534)
    assert run_output(spec, "sh", "-c", "id -u; id -g")[1] == "65534\n65534\n"
    status = run_output(spec, "python3", "-c", WRITE_PROBE, "/owned/probe")[0]
    assert status == errno.EACCES


def test_environment_is_exactly_the_given_one(
    make_spec: MakeSpec, run_output: RunOutput, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOST_ONLY", "leak")
    spec = make_spec(env={"PATH": "/usr/bin", "ONLY": "1"})
    assert run_output(spec, "env") == (0, "PATH=/usr/bin\nONLY=1\n", "")


def test_workdir(make_spec: MakeSpec, run_output: RunOutput) -> None:
    spec = make_spec(workdir="/usr/share")
    assert run_output(spec, "sh", "-c", "pwd")[1] == "/usr/share\n"


def test_no_network_only_loopback(make_spec: MakeSpec, run_output: RunOutput) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        # The host's listener is reachable from here, but not from inside.
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        probe = (
            "import socket, sys\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            "except OSError as e:\n"
            "    sys.exit(e.errno)\n"
        )
        status, _, _ = run_output(make_spec(), "python3", "-c", probe)
    # Refused rather than unreachable: loopback is up, and empty.
    assert status == errno.ECONNREFUSED
    _, devices, _ = run_output(make_spec(), "cat", "/proc/net/dev")
    names = [line.split(":")[0].strip() for line in devices.splitlines()[2:]]
    assert names == ["lo"]


def test_network_true_shares_the_host_network(make_spec: MakeSpec, run_output: RunOutput) -> None:
    _, inside, _ = run_output(make_spec(network=True), "cat", "/proc/net/dev")
    host = Path("/proc/net/dev").read_text()
    names = sorted(line.split(":")[0].strip() for line in inside.splitlines()[2:])
    assert names == sorted(line.split(":")[0].strip() for line in host.splitlines()[2:])


def test_read_only_and_read_write_binds(
    make_spec: MakeSpec, run_output: RunOutput, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    ro = tmp_path / "ro"
    ro.mkdir()
    spec = make_spec(
        Bind(shared, "/mnt/shared", read_only=False), Bind(ro, "/mnt/ro", read_only=True)
    )
    assert run_output(spec, "python3", "-c", WRITE_PROBE, "/usr/probe")[0] == errno.EROFS
    assert run_output(spec, "python3", "-c", WRITE_PROBE, "/mnt/ro/probe")[0] == errno.EROFS
    assert run_output(spec, "python3", "-c", WRITE_PROBE, "/mnt/shared/probe")[0] == 0
    assert (shared / "probe").read_text() == "written inside"
    assert not (ro / "probe").exists()


def test_file_bind_and_symlinks_in_the_root_stay_inside(
    make_spec: MakeSpec, run_output: RunOutput, tmp_path: Path
) -> None:
    source = tmp_path / "motd"
    source.write_text("hello\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    # No tmpfs: it would cover the mount point if `tmp_path` is under /tmp.
    spec = make_spec(Bind(source, "/escape/motd"), tmpfs=())
    # An absolute link in the root means the root's /target, not the host's.
    (spec.root / "escape").symlink_to(outside)
    assert run_output(spec, "cat", "/escape/motd") == (0, "hello\n", "")
    assert not (outside / "motd").exists()
    assert (spec.root / outside.relative_to("/") / "motd").is_file()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a submount on the host needs root")
def test_read_only_bind_covers_submounts(
    make_spec: MakeSpec, run_output: RunOutput, tmp_path: Path
) -> None:
    source = tmp_path / "tree"
    (source / "sub").mkdir(parents=True)
    syscalls.mount("tmpfs", str(source / "sub"), "tmpfs")
    try:
        spec = make_spec(Bind(source, "/tree"))
        status, _, _ = run_output(spec, "python3", "-c", WRITE_PROBE, "/tree/sub/probe")
    finally:
        syscalls.umount2(str(source / "sub"))
    assert status == errno.EROFS


def test_overlay_lays_a_tree_over_usr_read_only(
    make_spec: MakeSpec, run_output: RunOutput, tmp_path: Path
) -> None:
    layer = tmp_path / "layer"
    (layer / "lib").mkdir(parents=True)
    (layer / "lib" / "layered").write_text("from the layer\n")
    (layer / "bin").mkdir()
    (layer / "bin" / "true").write_text("#!/bin/sh\nexit 3\n")
    (layer / "bin" / "true").chmod(0o755)
    spec = make_spec(Overlay((layer, Path("/usr")), "/usr"))
    assert run_output(spec, "cat", "/usr/lib/layered") == (0, "from the layer\n", "")
    # The first layer wins over the host's `/usr`, which still provides everything else.
    assert run_output(spec, "/usr/bin/true")[0] == 3
    assert run_output(spec, "sh", "-c", "test -x /usr/bin/python3")[0] == 0
    assert run_output(spec, "python3", "-c", WRITE_PROBE, "/usr/lib/probe")[0] == errno.EROFS
    assert not (layer / "lib" / "probe").exists()


def test_overlay_of_a_missing_layer_is_a_setup_error(make_spec: MakeSpec, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ContainerError) as info:
        run_container(make_spec(Overlay((missing, Path("/usr")), "/opt")), ["true"])
    assert info.value.step == f"overlay {missing}:/usr -> /opt"


def test_tmp_is_a_fresh_tmpfs(make_spec: MakeSpec, run_output: RunOutput) -> None:
    spec = make_spec()
    (spec.root / "tmp").mkdir()
    (spec.root / "tmp" / "underneath").write_text("")
    script = "ls -A /tmp; touch /tmp/new; grep ' /tmp ' /proc/self/mountinfo | cut -d' ' -f9"
    assert run_output(spec, "sh", "-c", script) == (0, "tmpfs\n", "")
    assert sorted(p.name for p in (spec.root / "tmp").iterdir()) == ["underneath"]


def test_minimal_dev(make_spec: MakeSpec, run_output: RunOutput) -> None:
    script = "ls /dev; echo x > /dev/null; head -c 4 /dev/zero | od -An -tx1"
    status, out, _ = run_output(make_spec(), "sh", "-c", script)
    assert status == 0
    listed, zeros = out.rsplit("\n", 2)[0], out.splitlines()[-1]
    expected = ["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "tty"]
    assert sorted(listed.split()) == sorted([*expected, "urandom", "zero"])
    assert zeros.split() == ["00"] * 4


def test_host_dev(make_spec: MakeSpec, run_output: RunOutput) -> None:
    status, out, _ = run_output(make_spec(dev=Dev.HOST), "sh", "-c", "ls /dev")
    assert status == 0
    assert sorted(out.split()) == sorted(p.name for p in Path("/dev").iterdir())


def test_no_proc_no_dev(make_spec: MakeSpec, run_output: RunOutput) -> None:
    spec = make_spec(proc=False, dev=Dev.NONE, tmpfs=())
    listed = run_output(spec, "ls", "-A", "/")[1].split()
    assert listed == sorted(path.name for path in spec.root.iterdir())
    assert not {"proc", "dev", "tmp"} & set(listed)


def test_missing_bind_source_is_a_setup_error(make_spec: MakeSpec, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ContainerError) as info:
        run_container(make_spec(Bind(missing, "/mnt")), ["true"])
    assert info.value.step == f"bind {missing} -> /mnt"
    assert info.value.errno == errno.ENOENT
    assert str(info.value).startswith(f"container setup failed at bind {missing} -> /mnt:")


def test_missing_program_is_a_setup_error(make_spec: MakeSpec) -> None:
    with pytest.raises(ContainerError) as info:
        run_container(make_spec(), ["no-such-program"])
    assert (info.value.step, info.value.errno) == ("exec no-such-program", errno.ENOENT)


def test_missing_root_is_a_setup_error(make_spec: MakeSpec, tmp_path: Path) -> None:
    spec = ContainerSpec(root=tmp_path / "nowhere")
    with pytest.raises(ContainerError, match="at root "):
        run_container(spec, ["true"])


def _find_process(argv: list[str]) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = processes(argv)
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no process {argv}")


def test_a_session_runs_each_command_in_a_fresh_container(
    make_spec: MakeSpec, tmp_path: Path
) -> None:
    sleeper = ["sleep", f"{random.randrange(10**6, 10**7)}"]
    output = tmp_path / "output"
    with (
        output.open("wb") as out,
        ContainerSession(make_spec(), stdin=subprocess.DEVNULL, stdout=out, stderr=out) as session,
    ):
        first = f"echo $$; echo left > /tmp/left; {' '.join(sleeper)} & exit 3"
        assert session.run(["sh", "-c", first]) == 3
        # The command's end killed what it left running, before the next command starts.
        assert processes(sleeper) == []
        second = "echo $$; cat /tmp/left || echo absent; pgrep sleep || echo alone"
        assert session.run(["sh", "-c", second]) == 0
        assert session.run(["sh", "-c", "exit 5"]) == 5
    assert (
        output.read_text().replace("cat: /tmp/left: No such file or directory\n", "")
        == "1\n1\nabsent\nalone\n"
    )
    with pytest.raises(ContainerError, match="closed"):
        session.run(["true"])


def test_a_session_reports_a_timeout_for_its_command_and_goes_on(make_spec: MakeSpec) -> None:
    with ContainerSession(make_spec(), timeout=1) as session:
        assert session.run(["true"]) == 0
        with pytest.raises(ContainerTimeout) as info:
            session.run(["sleep", "60"])
        assert (info.value.command, info.value.seconds) == ("sleep 60", 1)
        assert session.run(["sh", "-c", "exit 4"]) == 4


def test_a_session_reports_a_setup_error_for_its_command_and_goes_on(make_spec: MakeSpec) -> None:
    with ContainerSession(make_spec()) as session:
        with pytest.raises(ContainerError) as info:
            session.run(["no-such-program"])
        assert (info.value.step, info.value.errno) == ("exec no-such-program", errno.ENOENT)
        assert session.run(["true"]) == 0


def test_death_by_signal_is_a_negative_status(make_spec: MakeSpec) -> None:
    argv = ["sleep", f"{random.randrange(10**6, 10**7)}"]
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_container(make_spec(), argv)))
    thread.start()
    # As PID 1 of its namespace, the command only dies of SIGKILL (or SIGSTOP) from outside.
    os.kill(_find_process(argv), signal.SIGKILL)
    thread.join(20)
    assert result == [-signal.SIGKILL]


def test_killing_the_caller_kills_the_container(make_spec: MakeSpec) -> None:
    spec = make_spec()
    caller_code = (
        "import sys\n"
        "from moss_core.container import ContainerSpec, run_container\n"
        "spec = ContainerSpec.from_json(sys.argv[1])\n"
        "run_container(spec, ['sh', '-c', 'echo ready; exec sleep 600'])\n"
    )
    caller = subprocess.Popen(
        [sys.executable, "-c", caller_code, spec.to_json()], stdout=subprocess.PIPE
    )
    assert caller.stdout is not None
    try:
        assert caller.stdout.readline() == b"ready\n"
        caller.kill()
        caller.wait()
        # The pipe reaches end-of-file only once the container's sleep, its last holder, dies.
        readable, _, _ = select.select([caller.stdout], [], [], 20)
        assert readable and caller.stdout.read() == b""
    finally:
        caller.kill()
        caller.wait()
        caller.stdout.close()


def test_the_helper_loads_nothing_of_the_side_starting_it() -> None:
    """The helper each container starts, on the import path it is given, loads neither the
    module that starts it nor what only that needs."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-P", "-c", "import moss_core.container._init"],
        env={"PYTHONPATH": _import_path()},
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
    assert "moss_core.container._init" in imported
    starting_side = {"moss_core.container.run", "subprocess", "logging", "tempfile"}
    assert sorted(imported & starting_side) == []

"""What a container's command may do: the pure policy, then a hostile command as root."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import hostile
import pytest

from moss_core.container import Bind, ContainerSpec, ContainerTimeout, run_container
from moss_core.container.privileges import (
    CAPABILITIES,
    DENIED_SYSCALLS,
    FULL_RANGE,
    KEPT_CAPABILITIES,
    TRACING_SYSCALLS,
    IdMap,
    dropped_capabilities,
    inner_id_maps,
    policy_for,
)

MakeSpec = Callable[..., ContainerSpec]
RunOutput = Callable[..., tuple[int, str, str]]


def test_policy_keeps_only_the_file_and_id_capabilities() -> None:
    policy = policy_for(ContainerSpec(root=Path("/r")))
    kept = {name for name, number in CAPABILITIES.items() if number in policy.kept_capabilities}
    assert kept == set(KEPT_CAPABILITIES)
    assert not kept & {"sys_admin", "mknod", "sys_module", "sys_boot", "sys_rawio", "setpcap"}
    dropped = dropped_capabilities(policy, 40)
    assert CAPABILITIES["sys_admin"] in dropped and CAPABILITIES["chown"] not in dropped
    assert sorted(dropped + sorted(policy.kept_capabilities)) == list(range(41))
    # A newer kernel's capabilities, unknown here, are dropped too.
    assert 45 in dropped_capabilities(policy, 45)


def test_policy_denies_the_kernel_and_tracing_only_when_asked() -> None:
    trigger = policy_for(ContainerSpec(root=Path("/r")))
    build = policy_for(ContainerSpec(root=Path("/r"), tracing=True))
    for name in ("mount", "kexec_load", "init_module", "finit_module", "open_by_handle_at"):
        assert name in trigger.denied_syscalls and name in build.denied_syscalls
    for name in ("keyctl", "bpf", "perf_event_open", "reboot", "swapon", "setns"):
        assert name in trigger.denied_syscalls
    assert set(TRACING_SYSCALLS) <= set(trigger.denied_syscalls)
    assert build.denied_syscalls == DENIED_SYSCALLS
    assert "unshare" not in trigger.denied_syscalls  # only with a namespace flag:
    assert 0x10000000 in trigger.denied_namespace_flags  # CLONE_NEWUSER
    assert trigger.enosys_syscalls == ("clone3",)


def test_inner_id_maps() -> None:
    spec = ContainerSpec(root=Path("/r"), uid=1000, gid=100)
    assert inner_id_maps(spec, as_root=True) == (
        IdMap(0, 0, FULL_RANGE),
        IdMap(0, 0, FULL_RANGE),
    )
    assert inner_id_maps(spec, as_root=False) == (IdMap(1000, 1000, 1), IdMap(100, 100, 1))
    assert IdMap(0, 0, FULL_RANGE).line() == "0 0 4294967295\n"


@pytest.fixture
def hostile_setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The attack program, a writable directory, and an `/etc` to bind read-only."""
    attack_dir = tmp_path / "attack"
    attack_dir.mkdir()
    hostile.build_attacker(attack_dir)
    work = tmp_path / "work"
    work.mkdir()
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    return attack_dir, work, etc


@pytest.mark.skipif(os.geteuid() != 0, reason="the attacks that matter are those made as root")
def test_a_hostile_command_run_by_root_cannot_reach_the_host(
    make_spec: MakeSpec, run_output: RunOutput, hostile_setup: tuple[Path, Path, Path]
) -> None:
    attack_dir, work, etc = hostile_setup
    spec = make_spec(
        Bind(attack_dir, "/attack"),
        Bind(work, "/work", read_only=False),
        Bind(etc, "/etc"),
        read_only_root=True,
    )
    major, minor = hostile.host_disk()
    read_only = ["/etc", "/", "/usr"]
    status, _, err = run_output(
        spec, "/attack/attack", "/work/results", str(major), str(minor), "/work", *read_only
    )
    assert status == 0, err
    results = hostile.parse((work / "results").read_text())
    assert hostile.not_refused(results, read_only) == {}
    assert sorted(os.listdir(work)) == ["results"]
    assert sorted(os.listdir(etc)) == ["passwd"]
    assert not (spec.root / "pwned").exists()
    # Container root is real root for the files it makes: they keep their owners.
    assert (work / "results").stat().st_uid == 0


def _status_fields(text: str) -> dict[str, str]:
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key: value.strip() for key, value in fields.items()}


def test_the_command_runs_confined(make_spec: MakeSpec, run_output: RunOutput) -> None:
    status, out, err = run_output(
        make_spec(), "sh", "-c", "cat /proc/self/status /proc/self/uid_map"
    )
    assert status == 0, err
    fields = _status_fields(out)
    assert fields["NoNewPrivs"] == "1"
    assert fields["Seccomp"] == "2"
    kept = sum(1 << CAPABILITIES[name] for name in KEPT_CAPABILITIES)
    assert int(fields["CapBnd"], 16) == kept
    # Always a user namespace: as root, the identity over every id.
    if os.geteuid() == 0:
        assert out.split()[-3:] == ["0", "0", str(FULL_RANGE)]


@pytest.mark.skipif(os.geteuid() != 0, reason="mapping every id needs root")
def test_root_keeps_file_owners(make_spec: MakeSpec, run_output: RunOutput, tmp_path: Path) -> None:
    work = tmp_path / "owned"
    work.mkdir()
    (work / "theirs").write_text("")
    os.chown(work / "theirs", 1234, 1234)
    spec = make_spec(Bind(work, "/work", read_only=False))
    script = "touch /work/mine && chown 4321:4321 /work/mine && echo x >> /work/theirs"
    status, _, err = run_output(spec, "sh", "-c", script)
    assert status == 0, err
    assert ((work / "mine").stat().st_uid, (work / "mine").stat().st_gid) == (4321, 4321)
    assert (work / "theirs").stat().st_uid == 1234
    assert (work / "theirs").read_text() == "x\n"


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry))
    return found


def test_timeout_kills_the_whole_container(make_spec: MakeSpec, tmp_path: Path) -> None:
    marker = f"moss-timeout-{os.getpid()}-{time.monotonic_ns()}"
    # A daemon of its own, in a new session, and a foreground that never ends.
    script = f"setsid sh -c 'sleep 1000; true' {marker} & sh -c 'sleep 1001; true' {marker}"
    started = time.monotonic()
    with pytest.raises(ContainerTimeout) as raised:
        run_container(
            make_spec(), ["sh", "-c", script, marker], stdin=subprocess.DEVNULL, timeout=1
        )
    assert time.monotonic() - started < 30
    assert "did not finish within 1 s" in str(raised.value)
    assert _processes_with(marker) == []


def test_timeout_leaves_a_quick_command_alone(make_spec: MakeSpec, run_output: RunOutput) -> None:
    assert run_container(make_spec(), ["true"], timeout=60) == 0
    with pytest.raises(ValueError):
        run_container(make_spec(), ["true"], timeout=0)

"""Trigger plans executed through `IsolatedRunner` on a scratch staging tree."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from moss_core.container.isolated import ROOT_LINKS, IsolatedRunner
from moss_core.triggers import (
    DeleteCommand,
    Invocation,
    Plan,
    RunCommand,
    Scope,
    TriggerRunError,
    UnsafePathError,
    execute_plan,
    load_triggers,
    plan_triggers,
    scan_tree,
    trigger_directory,
)
from moss_core.triggers.run import CommandResult

from .conftest import copy_program, processes

# The real kmod trigger's shape; the staging tree's own `sh` stands in for depmod.
KMOD = """\
name: depmod
description: Update kernel module dependencies
handlers:
    depmod:
        run: /usr/sbin/depmod
        args: ["-a", "$(version)"]
paths:
    "/usr/lib/modules/(version:*)/*":
        handlers: [depmod]
"""
# Only `sh` exists in the staging tree: builtins read the uid.
DEPMOD = """\
#!/usr/bin/sh
while read key value rest; do [ "$key" = Uid: ] && uid=$value; done < /proc/self/status
echo "$$ $uid $*" >> /usr/lib/modules/depmod.log
"""


@pytest.fixture
def staging(namespaces: None, tmp_path: Path) -> Path:
    """A staging tree whose `usr` holds a working `sh` (the host's dash and its libraries)."""
    usr = tmp_path / "staging" / "usr"
    copy_program(usr, "/usr/bin/dash", "sh", dict(ROOT_LINKS))
    (tmp_path / "etc").mkdir()
    return usr.parent


def runner(tmp_path: Path, staging: Path, *, etc_writable: bool = False) -> IsolatedRunner:
    return IsolatedRunner(
        tmp_path / "isolation", staging / "usr", tmp_path / "etc", etc_writable=etc_writable
    )


def sh(trigger: str, script: str) -> Invocation:
    return Invocation(trigger, RunCommand("/usr/bin/sh", ("-c", script)))


def plan_of(*invocations: Invocation) -> Plan:
    return Plan(invocations=invocations, inhibited=())


def test_loaded_trigger_runs_isolated_once_per_version(tmp_path: Path, staging: Path) -> None:
    for version in ("6.2.0", "6.1.0"):
        module = staging / f"usr/lib/modules/{version}/kernel/m.ko"
        module.parent.mkdir(parents=True)
        module.write_text("")
    depmod = staging / "usr/sbin/depmod"
    depmod.parent.mkdir(parents=True)
    depmod.write_text(DEPMOD)
    depmod.chmod(0o755)
    (trigger_directory(staging) / "tx.d").mkdir(parents=True)
    (trigger_directory(staging) / "tx.d/kmod.yaml").write_text(KMOD)

    loaded = load_triggers(staging, Scope.TRANSACTION)
    plan = plan_triggers(loaded.triggers, scan_tree(staging))
    execute_plan(plan, runner(tmp_path, staging))

    # Each in a container of its own (PID 1), as root, with the staging /usr writable.
    log = (staging / "usr/lib/modules/depmod.log").read_text()
    assert log == "1 0 -a 6.1.0\n1 0 -a 6.2.0\n"
    links = {p.name: os.readlink(p) for p in (tmp_path / "isolation").iterdir() if p.is_symlink()}
    assert links == dict(ROOT_LINKS)


def test_etc_is_read_only_for_transaction_triggers(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(sh("probe", "echo usr > /usr/probe; echo etc > /etc/probe"))
    with pytest.raises(TriggerRunError) as info:
        execute_plan(plan, runner(tmp_path, staging))
    assert info.value.trigger == "probe" and info.value.status == 2
    assert "Read-only file system" in info.value.stderr
    assert (staging / "usr/probe").read_text() == "usr\n"
    assert not (tmp_path / "etc/probe").exists()


def test_etc_is_writable_for_system_triggers(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(sh("probe", "echo etc > /etc/probe"))
    execute_plan(plan, runner(tmp_path, staging, etc_writable=True))
    assert (tmp_path / "etc/probe").read_text() == "etc\n"


def test_nothing_else_of_the_host_is_visible(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(
        sh(
            "probe",
            "echo /*; echo /dev/*; echo /tmp/*; exec < /proc/net/dev; "
            "while read line; do echo $line; done > /usr/net; exit 9",
        )
    )
    with pytest.raises(TriggerRunError) as info:
        execute_plan(plan, runner(tmp_path, staging))
    top = "/bin /dev /etc /lib /lib32 /lib64 /proc /sbin /tmp /usr"
    devices = "/dev/fd /dev/full /dev/null /dev/random /dev/shm /dev/stderr /dev/stdin"
    devices += " /dev/stdout /dev/tty /dev/urandom /dev/zero"
    assert info.value.stdout == f"{top}\n{devices}\n/tmp/*\n"
    interfaces = (staging / "usr/net").read_text().splitlines()[2:]
    assert [line.split(":")[0].strip() for line in interfaces] == ["lo"]


def test_failing_handler_stops_the_plan(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(sh("first", "echo out; echo err >&2; exit 3"), sh("second", "touch /usr/second"))
    with pytest.raises(TriggerRunError, match="exited with status 3") as info:
        execute_plan(plan, runner(tmp_path, staging))
    assert (info.value.trigger, info.value.stdout, info.value.stderr) == ("first", "out\n", "err\n")
    assert not (staging / "usr/second").exists()


def test_missing_program_cannot_start(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(Invocation("gone", RunCommand("/usr/bin/no-such-program", ())))
    with pytest.raises(TriggerRunError, match="could not start") as info:
        execute_plan(plan, runner(tmp_path, staging))
    assert info.value.status is None
    cause = info.value.__cause__
    assert isinstance(cause, OSError) and cause.errno == errno.ENOENT
    assert "exec /usr/bin/no-such-program" in str(cause)


def test_delete_in_the_container_view(tmp_path: Path, staging: Path) -> None:
    cache = staging / "usr/share/cache/a"
    cache.mkdir(parents=True)
    (tmp_path / "etc/stale").write_text("")
    plan = plan_of(Invocation("rm", DeleteCommand(("/usr/share/cache", "/etc/stale"))))
    execute_plan(plan, runner(tmp_path, staging, etc_writable=True))
    assert not (staging / "usr/share/cache").exists()
    assert not (tmp_path / "etc/stale").exists()


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        ("/usr", UnsafePathError),
        ("/usr/../etc/keep", UnsafePathError),
        ("/bin/sh", UnsafePathError),
        ("/elsewhere", UnsafePathError),
        ("/etc/keep", OSError),
    ],
)
def test_delete_refuses_what_the_container_could_not_delete(
    tmp_path: Path, staging: Path, path: str, cause: type[Exception]
) -> None:
    (tmp_path / "etc/keep").write_text("")
    plan = plan_of(Invocation("rm", DeleteCommand((path,))))
    with pytest.raises(TriggerRunError) as info:
        execute_plan(plan, runner(tmp_path, staging))
    assert isinstance(info.value.__cause__, cause)
    assert (tmp_path / "etc/keep").exists() and (staging / "usr/bin/sh").exists()


def test_handler_past_its_time_is_killed_and_stops_the_plan(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(sh("slow", "while :; do :; done"), sh("next", "echo > /usr/next"))
    isolated = IsolatedRunner(tmp_path / "isolation", staging / "usr", tmp_path / "etc", timeout=1)
    with pytest.raises(TriggerRunError) as info:
        execute_plan(plan, isolated)
    assert str(info.value) == (
        "trigger 'slow': '/usr/bin/sh -c while :; do :; done' did not finish within 1 s"
        " and was killed, with every process it started"
    )
    assert not (staging / "usr/next").exists()


def test_each_handler_of_a_run_has_a_fresh_container_and_its_own_results(
    tmp_path: Path, staging: Path
) -> None:
    copy_program(staging / "usr", "/usr/bin/sleep", "sleep", dict(ROOT_LINKS))
    sleeper = ["/usr/bin/sleep", f"{random.randrange(10**6, 10**7)}"]
    commands = [
        RunCommand(
            "/usr/bin/sh", ("-c", f"echo one; echo err >&2; : > /tmp/left; {' '.join(sleeper)} &")
        ),
        RunCommand("/usr/bin/sh", ("-c", "[ -e /tmp/left ] && echo left || echo fresh; exit 4")),
        RunCommand("/usr/bin/sh", ("-c", "echo $$ > /usr/third")),
    ]
    results = runner(tmp_path, staging).run(commands)
    assert next(results) == CommandResult(status=0, stdout="one\n", stderr="err\n")
    assert not processes(sleeper)
    assert next(results) == CommandResult(status=4, stdout="fresh\n", stderr="")
    # A command runs only when its result is asked for.
    assert not (staging / "usr/third").exists()
    assert list(results) == [CommandResult(status=0, stdout="", stderr="")]
    assert (staging / "usr/third").read_text() == "1\n"


def test_a_plan_stops_at_its_first_failure(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(
        sh("first", "echo > /usr/first"),
        sh("second", "echo out; exit 3"),
        sh("third", "echo > /usr/third"),
    )
    with pytest.raises(TriggerRunError, match="exited with status 3") as info:
        execute_plan(plan, runner(tmp_path, staging))
    assert (info.value.trigger, info.value.stdout) == ("second", "out\n")
    assert (staging / "usr/first").exists()
    assert not (staging / "usr/third").exists()


def test_the_second_handler_past_its_time_is_reported(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(
        sh("first", "echo > /usr/first"),
        sh("slow", "while :; do :; done"),
        sh("next", "echo > /usr/next"),
    )
    isolated = IsolatedRunner(tmp_path / "isolation", staging / "usr", tmp_path / "etc", timeout=1)
    with pytest.raises(TriggerRunError, match="did not finish within 1 s") as info:
        execute_plan(plan, isolated)
    assert info.value.trigger == "slow"
    assert (staging / "usr/first").exists()
    assert not (staging / "usr/next").exists()


def test_deletes_and_runs_keep_their_order(tmp_path: Path, staging: Path) -> None:
    plan = plan_of(
        sh("make", "echo > /usr/made"),
        Invocation("rm", DeleteCommand(("/usr/made",))),
        sh("check", "[ -e /usr/made ] && echo present > /usr/seen || echo gone > /usr/seen"),
    )
    execute_plan(plan, runner(tmp_path, staging))
    assert (staging / "usr/seen").read_text() == "gone\n"


def _helpers() -> set[int]:
    """The container helper processes this test process started."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            if not entry.isdigit() or Path(f"/proc/{entry}/stat").read_text().split()[3] != str(
                os.getpid()
            ):
                continue
            if b"moss_core.container._init" in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.add(int(entry))
        except (OSError, IndexError):
            continue
    return found


def test_a_started_runner_runs_every_plan_through_one_helper(tmp_path: Path, staging: Path) -> None:
    isolated = runner(tmp_path, staging)
    isolated.start()
    try:
        started = _helpers()
        assert len(started) == 1
        execute_plan(plan_of(sh("one", "echo 1 > /usr/one")), isolated)
        execute_plan(plan_of(sh("two", "echo $$ > /usr/two")), isolated)
        assert _helpers() == started
    finally:
        isolated.close()
    assert (staging / "usr/two").read_text() == "1\n"
    assert not _helpers()


def test_a_started_runner_starts_afresh_after_a_handler_past_its_time(
    tmp_path: Path, staging: Path
) -> None:
    isolated = IsolatedRunner(tmp_path / "isolation", staging / "usr", tmp_path / "etc", timeout=1)
    isolated.start()
    try:
        with pytest.raises(TriggerRunError, match="did not finish within 1 s"):
            execute_plan(plan_of(sh("slow", "while :; do :; done")), isolated)
        assert not _helpers()
        execute_plan(plan_of(sh("next", "echo > /usr/next")), isolated)
    finally:
        isolated.close()
    assert (staging / "usr/next").exists()
    assert not _helpers()

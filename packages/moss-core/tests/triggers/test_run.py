"""Executing plans with the plain runner on scratch trees."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from moss_core.triggers import (
    DeleteCommand,
    FileKind,
    Inhibited,
    Invocation,
    PlainRunner,
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

# Installed into the scratch tree as tx.d/kmod.yaml: the real kmod trigger's shape, but the
# handler is a script shipped inside the tree (the plain runner has no chroot).
KMOD = """\
name: depmod
description: Update kernel module dependencies
handlers:
    depmod:
        run: /bin/sh
        args: ["usr/sbin/depmod", "-a", "$(version)"]
paths:
    "/usr/lib/modules/(version:*)/*":
        handlers: [depmod]
        type: directory
"""
DEPMOD = 'printf "%s %s\\n" "$1" "$2" >> depmod.log\n'


def write(root: Path, relative: str, text: str = "") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def plan_of(*invocations: Invocation) -> Plan:
    return Plan(invocations=invocations, inhibited=())


def test_two_kernel_versions_run_depmod_twice(tmp_path: Path) -> None:
    for version in ("6.2.0", "6.1.0"):
        for index in range(50):
            write(tmp_path, f"usr/lib/modules/{version}/kernel/drivers/m{index}.ko.zst")
        write(tmp_path, f"usr/lib/modules/{version}/modules.dep")
    write(tmp_path, "usr/sbin/depmod", DEPMOD)
    write(trigger_directory(tmp_path), "tx.d/kmod.yaml", KMOD)

    loaded = load_triggers(tmp_path, Scope.TRANSACTION)
    assert loaded.warnings == ()
    plan = plan_triggers(loaded.triggers, scan_tree(tmp_path))
    execute_plan(plan, PlainRunner(tmp_path))

    assert (tmp_path / "depmod.log").read_text() == "-a 6.1.0\n-a 6.2.0\n"


def test_failing_handler_aborts_naming_trigger_command_and_status(tmp_path: Path) -> None:
    # Spec scenario 20 has upstream warn and carry on; we stop at the first failure.
    plan = plan_of(
        Invocation("first", RunCommand("/bin/sh", ("-c", "echo out; echo err >&2; exit 3"))),
        Invocation("second", RunCommand("/bin/sh", ("-c", "touch ran"))),
    )
    with pytest.raises(TriggerRunError) as info:
        execute_plan(plan, PlainRunner(tmp_path))
    error = info.value
    assert (error.trigger, error.status) == ("first", 3)
    assert error.command == "/bin/sh -c echo out; echo err >&2; exit 3"
    assert (error.stdout, error.stderr) == ("out\n", "err\n")
    assert "'first'" in str(error) and "exited with status 3" in str(error)
    assert not (tmp_path / "ran").exists()


def test_killed_handler_reports_the_signal(tmp_path: Path) -> None:
    plan = plan_of(Invocation("k", RunCommand("/bin/sh", ("-c", "kill -9 $$"))))
    with pytest.raises(TriggerRunError, match="killed by signal 9") as info:
        execute_plan(plan, PlainRunner(tmp_path))
    assert info.value.status == -9


def test_missing_program_aborts(tmp_path: Path) -> None:
    # Scenario 21 at the level of this runner: the command cannot even start.
    plan = plan_of(Invocation("gone", RunCommand(str(tmp_path / "no-such-program"), ())))
    with pytest.raises(TriggerRunError, match="could not start") as info:
        execute_plan(plan, PlainRunner(tmp_path))
    assert info.value.status is None
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_commands_run_in_root_with_empty_stdin_and_given_env(tmp_path: Path) -> None:
    script = (
        "import os, sys; open('probe', 'w').write(os.environ['PROBE'] + repr(sys.stdin.read()))"
    )
    plan = plan_of(Invocation("env", RunCommand(sys.executable, ("-c", script))))
    execute_plan(plan, PlainRunner(tmp_path, env={**os.environ, "PROBE": "yes"}))
    assert (tmp_path / "probe").read_text() == "yes''"


def test_delete_removes_files_directories_and_links(tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/keep")
    root = tmp_path / "root"
    write(root, "usr/share/cache/a/b")
    write(root, "usr/lib/file")
    (root / "usr/lib/link").symlink_to(outside.parent)
    plan = plan_of(
        Invocation(
            "rm",
            DeleteCommand(("/usr/share/cache", "/usr/lib/file", "/usr/lib/link", "/usr/none")),
        )
    )
    execute_plan(plan, PlainRunner(root))
    assert scan_tree(root) == {
        "/": FileKind.DIRECTORY,
        "/usr": FileKind.DIRECTORY,
        "/usr/share": FileKind.DIRECTORY,
        "/usr/lib": FileKind.DIRECTORY,
    }
    assert outside.exists()


@pytest.mark.parametrize(
    "path", ["/", "/usr/..", "../outside/keep", "/usr/../../outside/keep", "/escape/keep"]
)
def test_delete_refuses_paths_outside_the_root(tmp_path: Path, path: str) -> None:
    outside = write(tmp_path, "outside/keep")
    root = tmp_path / "root"
    write(root, "usr/file")
    (root / "escape").symlink_to(outside.parent)
    plan = plan_of(Invocation("rm", DeleteCommand((path,))))
    with pytest.raises(TriggerRunError) as info:
        execute_plan(plan, PlainRunner(root))
    assert isinstance(info.value.__cause__, UnsafePathError)
    assert info.value.trigger == "rm"
    assert outside.exists() and (root / "usr/file").exists()


def test_inhibited_triggers_are_logged_not_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = Plan(invocations=(), inhibited=(Inhibited("ssh", "inhibited in environment chroot"),))
    with caplog.at_level(logging.INFO, logger="moss_core.triggers"):
        execute_plan(plan, PlainRunner(tmp_path))
    assert caplog.messages == ["trigger ssh not run: inhibited in environment chroot"]

"""Hostile trigger handlers, run by root: they cannot reach the host, and one that never ends is
killed after the configured time with the transaction aborted and nothing changed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import hostile
import pytest

from moss_core.container import namespaces_available

from .helpers import MossRun, make_stone

SLEEPER_SOURCE = r"""
#include <unistd.h>
int main(void) {
    if (fork() == 0) setsid();
    for (;;) pause();
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


def test_a_handler_that_never_ends_is_killed_and_the_transaction_aborted(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build a static trigger handler")
    source = tmp_path / "sleeper.c"
    source.write_text(SLEEPER_SOURCE)
    sleeper = tmp_path / "sleeper"
    subprocess.run(["gcc", "-static", "-O1", "-o", str(sleeper), str(source)], check=True)
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/moss.kdl").write_text("trigger-timeout 1\n")
    base = make_stone(packages, "base", {"share/base": b"base"})
    assert moss("install", str(base)).code == 0
    installed = moss("list", "installed").out
    hanging = make_stone(
        packages,
        "hanging",
        {"bin/sleeper": sleeper.read_bytes(), **_trigger("hang", "/usr/bin/sleeper", [], "tx")},
    )

    result = moss("install", str(hanging))

    assert result.code == 1
    assert result.err.count("\n") == 1, result.err
    assert "'hang'" in result.err and "did not finish within 1 s" in result.err
    # Nothing claims success.
    assert result.out.rstrip().endswith("Running transaction triggers"), result.out
    assert "Installed" not in result.out
    assert (root / "usr/.stateID").read_text().strip() == "1"
    assert not (root / "usr/bin/sleeper").exists()
    assert _state_lines(moss) == ["State #1 - Install (active)"]
    assert moss("list", "installed").out == installed
    assert not (root / ".moss/root/staging/usr").exists()
    # The handler's own child, in a session of its own, was killed with it.
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _runs_sleeper(pid)]


def _runs_sleeper(pid: str) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/exe") == "/usr/bin/sleeper"
    except OSError:
        return False

"""Transaction triggers run isolated in the new tree; a failing one stops the transaction with the
live tree untouched; system triggers run on the live tree after the swap."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from moss_core.container import namespaces_available

from .helpers import MossRun, make_stone

TOUCH_SOURCE = r"""
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 3;
    for (int i = 2; i < argc; i++) {
        write(fd, argv[i], __builtin_strlen(argv[i]));
        write(fd, "\n", 1);
    }
    return close(fd) == 0 ? 0 : 4;
}
"""

FAIL_SOURCE = "int main(void) { return 7; }\n"


def _static(tmp_path: Path, name: str, source: str) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build a static trigger handler")
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    binary = tmp_path / name
    subprocess.run(["gcc", "-static", "-O1", "-o", str(binary), str(src)], check=True)
    return binary.read_bytes()


@pytest.fixture(autouse=True)
def _containers() -> None:
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"trigger isolation needs namespaces: {reason}")


def _trigger(
    name: str, run: str, args: list[str], pattern: str, scope: str = "tx"
) -> dict[str, bytes]:
    quoted = ", ".join(f'"{a}"' for a in args)
    text = (
        f"name: {name}\ndescription: test trigger\nhandlers:\n  go:\n    run: {run}\n"
        f'    args: [{quoted}]\npaths:\n  "{pattern}":\n    handlers: [go]\n'
    )
    return {f"share/moss/triggers/{scope}.d/{name}.yaml": text.encode()}


def test_transaction_trigger_runs_once_per_capture(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    touch = _static(tmp_path, "touch", TOUCH_SOURCE)
    tool = make_stone(
        packages,
        "tool",
        {
            "bin/touch-it": touch,
            **_trigger(
                "stamp",
                "/usr/bin/touch-it",
                ["/usr/share/stamp-$(flavour)", "$(flavour)"],
                "/usr/share/flavours/(flavour:*)",
            ),
        },
    )
    flavours = make_stone(
        packages, "flavours", {"share/flavours/sweet": b"s", "share/flavours/sour": b"s"}
    )
    result = moss("install", str(tool), str(flavours))
    assert result.code == 0, result.text
    assert (root / "usr/share/stamp-sweet").read_text() == "sweet\n"
    assert (root / "usr/share/stamp-sour").read_text() == "sour\n"


def test_failing_transaction_trigger_leaves_the_live_tree(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    failing = _static(tmp_path, "fail", FAIL_SOURCE)
    base = make_stone(packages, "base", {"share/base": b"base"})
    assert moss("install", str(base)).code == 0
    broken = make_stone(
        packages,
        "broken",
        {"bin/fail": failing, **_trigger("boom", "/usr/bin/fail", [], "/usr/bin/fail")},
    )
    result = moss("install", str(broken))
    assert result.code == 1
    assert "boom" in result.err and "7" in result.err
    assert result.err.count("\n") == 1, result.err
    assert (root / "usr/.stateID").read_text().strip() == "1"
    assert not (root / "usr/bin/fail").exists()
    assert [
        line for line in moss("state", "list").out.splitlines() if line.startswith("State #")
    ] == ["State #1 - Install (active)"]
    assert not (root / ".moss/root/staging/usr").exists()


def test_transaction_trigger_cannot_write_etc(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    touch = _static(tmp_path, "touch", TOUCH_SOURCE)
    (root / "etc").mkdir()
    sneaky = make_stone(
        packages,
        "sneaky",
        {
            "bin/touch-it": touch,
            **_trigger("sneak", "/usr/bin/touch-it", ["/etc/owned"], "/usr/bin/touch-it"),
        },
    )
    result = moss("install", str(sneaky))
    assert result.code == 1
    assert not (root / "etc/owned").exists()
    assert not (root / "usr").exists() or not (root / "usr/.stateID").exists()


def test_system_trigger_runs_on_the_live_tree(
    root: Path, packages: Path, tmp_path: Path, moss: MossRun
) -> None:
    touch = _static(tmp_path, "touch", TOUCH_SOURCE)
    (root / "etc").mkdir()
    system = make_stone(
        packages,
        "system",
        {
            "bin/touch-it": touch,
            **_trigger(
                "cfg", "/usr/bin/touch-it", ["/etc/configured", "yes"], "/usr/bin/touch-it", "sys"
            ),
        },
    )
    result = moss("install", str(system))
    assert result.code == 0, result.text
    assert (root / "etc/configured").read_text() == "yes\n"

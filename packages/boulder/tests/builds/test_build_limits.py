"""A build past its time or a resource limit is stopped, whole, in one line naming the limit;
and the limits come from boulder.kdl and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from boulder.build.runner import _duration
from boulder.settings import BuildSettings, SettingsError, load_settings
from moss_core.container.limits import MIB, Limits

MAIN = "import sys; from boulder.cli import main; sys.exit(main())"

HEAD = "name: foo\nversion: 1.0\nrelease: 1\nhomepage: h\nlicense: MIT\n"

# A build that never ends, with a process in a session of its own beside it.
SLEEPER = "build: |\n  setsid sleep 987 &\n  sleep 987\n"


def _boulder_build(tmp_path: Path, script: str, *options: str) -> subprocess.CompletedProcess[str]:
    recipe = tmp_path / "recipe" / "stone.yaml"
    recipe.parent.mkdir()
    recipe.write_text(HEAD + script, encoding="utf-8")
    (tmp_path / "out").mkdir()
    return subprocess.run(
        [sys.executable, "-c", MAIN,
         "--config-dir", str(tmp_path / "config"), "build", str(recipe),
         "-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), *options],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _sleepers() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x00987\x00":
                found.append(pid)
        except OSError:
            pass
    return found


@pytest.mark.usefixtures("containers")
def test_a_build_past_its_timeout_is_stopped_whole(tmp_path: Path) -> None:
    done = _boulder_build(tmp_path, SLEEPER, "--timeout", "1.5")
    assert done.returncode == 1
    recipe = tmp_path / "recipe/stone.yaml"
    log = tmp_path / "cache/logs/foo-1.0-1.log"
    assert done.stderr == (
        f"boulder: error: {recipe}:7: build (x86_64): the build did not finish within 1.5 s"
        f" and was stopped, with every process it started (build log: {log})\n"
    )
    assert _sleepers() == []
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.usefixtures("containers")
def test_a_build_writing_past_the_file_size_limit(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config/boulder.kdl").write_text("build-file-size 1\n")
    done = _boulder_build(tmp_path, "build: |\n  head -c 2000000 /dev/zero > big\n")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "build (x86_64): the build exceeded its file size limit (1 MiB)" in done.stderr


@pytest.mark.usefixtures("containers")
def test_a_build_filling_the_disk_with_small_files(tmp_path: Path) -> None:
    # Each file is far below the file size limit; together they pass the disk limit.
    script = "build: |\n  i=0\n  while head -c 1048576 /dev/zero > f$i; do i=$((i + 1)); done\n"
    done = _boulder_build(tmp_path, script, "--disk-limit", "8", "--file-size-limit", "2")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "build (x86_64): the build exceeded its disk limit (8 MiB) and was stopped" in (
        done.stderr
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_settings_files_then_the_command_line(tmp_path: Path) -> None:
    system, config = tmp_path / "system", tmp_path / "config"
    assert load_settings(config, system) == BuildSettings()
    assert BuildSettings().time_limit() == 12 * 3600
    system.mkdir()
    config.mkdir()
    (system / "boulder.kdl").write_text("build-timeout 60\nbuild-memory 100\n")
    (config / "boulder.kdl").write_text(
        "build-timeout 0\nbuild-processes 10\nbuild-disk 0\nbuild-disk-reserve 50"
    )
    settings = load_settings(config, system)
    assert settings == BuildSettings(timeout=0, memory=100, processes=10, disk=0, disk_reserve=50)
    assert settings.time_limit() is None
    assert settings.limits() == Limits(
        memory=100 * MIB, processes=10, file_size=65536 * MIB, disk_reserve=50 * MIB
    )
    assert BuildSettings().limits().disk == 262144 * MIB
    (config / "boulder.kdl").write_text("\nbuild-timeot 5\n")
    with pytest.raises(SettingsError, match=r"config/boulder.kdl:2:1: unknown setting"):
        load_settings(config, system)


def test_the_default_memory_limit_is_what_the_machine_has() -> None:
    limits = BuildSettings().limits()
    assert limits.memory is not None
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    kib = int(meminfo["MemTotal"].split()[0]) + int(meminfo["SwapTotal"].split()[0])
    assert limits.memory == kib * 1024


def test_a_time_limit_reads_as_it_was_most_likely_given() -> None:
    assert [_duration(s) for s in (1.5, 90, 5400, 43200, 3601)] == [
        "1.5 s", "90 s", "90 min", "12 h", "3601 s",
    ]  # fmt: skip

"""Transfer limits from a root's `usr/share/moss/fetch.kdl` and `etc/moss/fetch.kdl`."""

from __future__ import annotations

from pathlib import Path

import pytest

from moss_core.kdl import KdlError
from moss_core.repository import RepositoryError, TransferLimits, load_limits


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_configuration(tmp_path: Path) -> None:
    limits = load_limits(tmp_path)
    assert limits == TransferLimits()
    assert (limits.timeout, limits.speed_limit, limits.speed_time) == (30.0, 1024, 30.0)
    assert limits.max_index_bytes == 1 << 30
    assert limits.max_download_bytes == 16 << 30
    assert limits.quota == 1024 * 30


def test_etc_overrides_usr_share_setting_by_setting(tmp_path: Path) -> None:
    write(tmp_path, "usr/share/moss/fetch.kdl", "speed-limit 10\ntimeout 5\n")
    write(tmp_path, "etc/moss/fetch.kdl", "// the administrator's\ntimeout 2.5; speed-time 3\n")
    assert load_limits(tmp_path) == TransferLimits(timeout=2.5, speed_limit=10, speed_time=3)


def test_a_zero_speed_limit_sets_no_floor(tmp_path: Path) -> None:
    write(
        tmp_path,
        "etc/moss/fetch.kdl",
        "speed-limit 0\nmax-index-size 0x100000\nmax-download-size 1_000\n",
    )
    limits = load_limits(tmp_path)
    assert limits.quota == 0 and limits.max_index_bytes == 1 << 20
    assert limits.max_download_bytes == 1000


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("speed-limt 10", "unknown setting 'speed-limt' (known: timeout, speed-limit, "),
        ("speed-limit 1.5", "speed-limit takes one whole number of at least 0, not 1.5"),
        ("speed-limit -1", "speed-limit takes one whole number of at least 0, not -1"),
        ("timeout 0", "timeout takes one number of at least 0.001, not 0"),
        ("speed-time #inf", "speed-time takes one number of at least 0.001, not #inf"),
        ('max-index-size "1G"', 'max-index-size takes one whole number of at least 1, not "1G"'),
        ("max-index-size 1 2", "max-index-size takes one whole number of at least 1, not 1 2"),
        ("timeout", "timeout takes one number of at least 0.001, not nothing"),
        ("timeout #true", "timeout takes one number of at least 0.001, not #true"),
    ],
)
def test_bad_settings_name_the_file_and_line(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, "etc/moss/fetch.kdl", f"timeout 10\n{text}\n")
    with pytest.raises(RepositoryError) as caught:
        load_limits(tmp_path)
    assert str(caught.value).startswith(f"{path}:2:1: {problem}")


def test_unreadable_kdl_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "etc/moss/fetch.kdl", 'timeout "10\n')
    with pytest.raises(KdlError, match=rf"^{path}:1:"):
        load_limits(tmp_path)

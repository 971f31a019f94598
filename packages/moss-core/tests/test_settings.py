"""moss's settings files: defaults, precedence, and every bad setting refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from moss_core import kdl
from moss_core.container.limits import MIB, Limits
from moss_core.installation import Installation
from moss_core.settings import Number, Settings, SettingsError, load_settings, parse_numbers


def test_defaults_without_files(tmp_path: Path) -> None:
    assert load_settings(Installation.open(tmp_path)) == Settings(trigger_timeout=600.0)


def test_etc_overrides_usr_share(tmp_path: Path) -> None:
    for relative, text in (("usr/share/moss", "trigger-timeout 30\n"), ("etc/moss", "")):
        (tmp_path / relative).mkdir(parents=True)
        (tmp_path / relative / "moss.kdl").write_text(text)
    installation = Installation.open(tmp_path)
    assert load_settings(installation).trigger_timeout == 30.0
    (tmp_path / "etc/moss/moss.kdl").write_text(
        "// an hour for slow machines\ntrigger-timeout 3600"
    )
    assert load_settings(installation).trigger_timeout == 3600.0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "trigger-timout 5",
            "unknown setting 'trigger-timout' (known: trigger-timeout, trigger-memory,"
            " trigger-processes, trigger-file-size, trigger-disk, trigger-disk-reserve)",
        ),
        ("trigger-memory -1", "trigger-memory takes one number of at least 0, not -1"),
        (
            "trigger-processes 1.5",
            "trigger-processes takes one whole number of at least 0, not 1.5",
        ),
        ("trigger-timeout", "trigger-timeout takes one number of at least 0.001, not nothing"),
        ("trigger-timeout 1 2", "trigger-timeout takes one number of at least 0.001, not 1 2"),
        ('trigger-timeout "5"', 'trigger-timeout takes one number of at least 0.001, not "5"'),
        ("trigger-timeout #true", "trigger-timeout takes one number of at least 0.001, not #true"),
        ("trigger-timeout 0", "trigger-timeout takes one number of at least 0.001, not 0"),
        ("trigger-timeout -1.5", "trigger-timeout takes one number of at least 0.001, not -1.5"),
        ("trigger-timeout #inf", "trigger-timeout takes one number of at least 0.001, not #inf"),
        ("trigger-timeout 5 { x }", "trigger-timeout takes one number of at least 0.001, not 5"),
    ],
)
def test_bad_settings_name_file_line_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "etc/moss").mkdir(parents=True)
    (tmp_path / "etc/moss/moss.kdl").write_text("\n" + text)
    with pytest.raises(SettingsError) as raised:
        load_settings(Installation.open(tmp_path))
    assert str(raised.value) == f"{tmp_path}/etc/moss/moss.kdl:2:1: {problem}"


def test_trigger_limits_in_mib_and_0_for_none(tmp_path: Path) -> None:
    assert Settings().trigger_limits() == Limits(
        4096 * MIB, 4096, 4096 * MIB, disk=1024 * MIB, disk_reserve=256 * MIB
    )
    (tmp_path / "etc/moss").mkdir(parents=True)
    (tmp_path / "etc/moss/moss.kdl").write_text(
        "trigger-memory 0.5\ntrigger-processes 0\ntrigger-file-size 0\ntrigger-disk 2.5\n"
        "trigger-disk-reserve 0"
    )
    limits = load_settings(Installation.open(tmp_path)).trigger_limits()
    assert limits == Limits(memory=MIB // 2, disk=5 * MIB // 2)


def test_whole_numbers_refuse_fractions() -> None:
    schema = {"count": Number("count", fraction=False, least=0)}
    assert parse_numbers(kdl.parse("count 3"), "f.kdl", schema) == {"count": 3}
    with pytest.raises(
        SettingsError, match=r"count takes one whole number of at least 0, not 1\.5"
    ):
        parse_numbers(kdl.parse("count 1.5"), "f.kdl", schema)


def test_unreadable_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "etc/moss").mkdir(parents=True)
    (tmp_path / "etc/moss/moss.kdl").write_text("trigger-timeout {")
    with pytest.raises(kdl.KdlError, match=r"etc/moss/moss.kdl:1:"):
        load_settings(Installation.open(tmp_path))

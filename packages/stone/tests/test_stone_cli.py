"""`stone create` refuses what moss could not use, and errors name the user's paths."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from stone.cli import main

from .corrupt import Part, join, plain, split, with_plain


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "tree/bin").mkdir(parents=True)
    (tmp_path / "tree/bin/x").write_bytes(b"x")
    return tmp_path / "tree"


def _create(tree: Path, output: Path, *options: str) -> tuple[int, str]:
    argv = ["create", "--root", str(tree), "--release", "1", "-o", str(output), *options]
    result = CliRunner().invoke(main, argv)
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--name", "bad name/..", "--version", "1"], "name 'bad name/..' is not a package name"),
        (["--name", "ok", "--version", ""], "version '' is not a version"),
        (["--name", "ok", "--version", "1", "--provides", "notakind"],
         "--provides 'notakind': expected kind(name)"),
        (["--name", "ok", "--version", "1", "--depends", "name(a b)"],
         "'name(a b)' has white space or control characters"),
        (["--name", "ok", "--version", "1", "--source-id", "a/b"], "source id 'a/b'"),
    ],
)  # fmt: skip
def test_create_refuses_what_moss_cannot_use(
    tree: Path, tmp_path: Path, options: list[str], message: str
) -> None:
    code, err = _create(tree, tmp_path / "x.stone", *options)
    assert code == 1 and err.startswith("stone: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "x.stone").exists()


def test_errors_name_the_paths_the_user_gave(tree: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent/dir/x.stone"
    code, err = _create(tree, missing, "--name", "ok", "--version", "1")
    assert code == 1
    assert err == f"stone: error: {missing}: the directory to write it in does not exist\n"
    package = tmp_path / "x.stone"
    assert _create(tree, package, "--name", "ok", "--version", "1.0+git~2")[0] == 0
    runner = CliRunner()
    assert runner.invoke(main, ["extract", str(package), str(tmp_path / "out")]).exit_code == 0
    again = runner.invoke(main, ["extract", str(package), str(tmp_path / "out")])
    assert again.exit_code == 1
    assert again.stderr == f"stone: error: {package}: {tmp_path / 'out/bin/x'}: File exists\n"


def _corrupt_meta(package: Path, how: str) -> None:
    head, parts = split(package.read_bytes())
    meta = parts[0]
    if how == "checksum":
        parts[0] = Part(replace(meta.header, checksum=meta.header.checksum ^ 1), meta.body)
    elif how == "plain size":
        parts[0] = Part(replace(meta.header, plain_size=meta.header.plain_size + 1), meta.body)
    else:  # the package's name, "okname", no longer UTF-8
        parts[0] = with_plain(meta, plain(meta).replace(b"okname", b"ok\xffname"))
    package.write_bytes(join(head, parts))


@pytest.mark.parametrize("how", ["checksum", "plain size", "utf-8"])
def test_inspect_and_extract_refuse_a_corrupt_meta_payload(
    tree: Path, tmp_path: Path, how: str
) -> None:
    package = tmp_path / "x.stone"
    assert _create(tree, package, "--name", "okname", "--version", "1")[0] == 0
    _corrupt_meta(package, how)
    runner = CliRunner()
    for argv in (["inspect", str(package)], ["extract", str(package), str(tmp_path / "out")]):
        result = runner.invoke(main, argv)
        assert result.exit_code == 1, (argv, result.output)
        assert result.stderr.startswith(f"stone: error: {package}: payload 0 (meta)")
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert not (tmp_path / "out").exists()

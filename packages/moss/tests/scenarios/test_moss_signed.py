"""Signed repositories over HTTP on 127.0.0.1: `moss index --sign-key` and `moss key`, a key
pinned with `repo add --key`, and each refusal (tampered index, another key, no signature, an
older signed index replayed, an expired signature) keeping the previous index, from which
installs still work. The real `minisign` verifies moss's signature and makes one moss takes."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback_http import LoopbackServer, serving

from moss_core.repository import build_index
from moss_core.trust.keys import load_secret_key, sign_file
from moss_core.trust.minisign import SecretKey

from .helpers import MossRun, make_stone

MINISIGN = shutil.which("minisign")


@pytest.fixture
def served(tmp_path: Path) -> Path:
    directory = tmp_path / "served"
    directory.mkdir()
    make_stone(directory, "app", {"bin/app": b"app 1"})
    return directory


@pytest.fixture
def server(served: Path) -> Iterator[LoopbackServer]:
    yield from serving(served)


def _state_index(root: Path) -> bytes:
    (index,) = root.glob(".moss/repo/*/stone.index")
    return index.read_bytes()


def _publish(served: Path, name: str) -> None:
    make_stone(served, name, {f"share/{name}": name.encode()})
    build_index(served)


def test_signed_repository_refuses_each_attack_and_keeps_its_index(
    root: Path, tmp_path: Path, moss: MossRun, served: Path, server: LoopbackServer
) -> None:
    generated = moss("key", "generate", str(tmp_path / "k"))
    assert generated.code == 0, generated.text
    secret = tmp_path / "k.key"
    indexed = moss("index", str(served), "--sign-key", str(secret), "--expires", "30")
    assert indexed.code == 0, indexed.text
    assert (served / "stone.index.minisig").exists()
    if MINISIGN is not None:
        checked = subprocess.run(
            [MINISIGN, "-Vm", str(served / "stone.index"), "-p", str(tmp_path / "k.pub")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert checked.returncode == 0, checked.stderr
        assert "version:" in checked.stdout and "expires:" in checked.stdout
    first = {p.name: p.read_bytes() for p in served.glob("stone.index*")}

    added = moss(
        "repo", "add", "signed", server.url("stone.index"), "--key", str(tmp_path / "k.pub")
    )
    assert added.code == 0, added.text
    key_id = load_secret_key(secret).public_key().id_text
    assert f"signed by {key_id}" in moss("repo", "list").out

    _publish(served, "extra")
    assert moss("index", str(served), "--sign-key", str(secret)).code == 0
    assert moss("repo", "update", "signed").code == 0
    good = _state_index(root)
    other = SecretKey.generate()

    def tampered() -> None:
        _publish(served, "evil")  # a new index, the old signature

    def wrong_key() -> None:
        _publish(served, "evil")
        sign_file(served / "stone.index", other)

    def unsigned() -> None:
        _publish(served, "evil")
        (served / "stone.index.minisig").unlink()

    def replayed() -> None:
        for name, data in first.items():
            (served / name).write_bytes(data)

    def expired() -> None:
        _publish(served, "evil")
        sign_file(
            served / "stone.index",
            load_secret_key(secret),
            expires_days=1,
            now=int(time.time()) - 2 * 86400,
        )

    for attack, reason in (
        (tampered, "bad signature"),
        (wrong_key, f"signed by another key ({other.public_key().id_text}), not the pinned key"),
        (unsigned, "no signature"),
        (replayed, "rollback: version"),
        (expired, "(freeze)"),
    ):
        attack()
        refused = moss("repo", "update", "signed")
        assert refused.code == 1, attack.__name__
        line = refused.err.strip()
        assert "\n" not in line and line.startswith("moss: error: repository signed: "), line
        assert reason in line and "the previous index is kept" in line, line
        assert _state_index(root) == good, attack.__name__
        assert "evil" not in moss("list", "available").out

    installed = moss("install", "extra")
    assert installed.code == 0, installed.text
    assert (root / "usr/share/extra").read_bytes() == b"extra"


@pytest.mark.skipif(MINISIGN is None, reason="minisign is not installed (scripts/test-tools.sh)")
def test_an_index_signed_by_the_minisign_tool_is_accepted(
    root: Path, tmp_path: Path, moss: MossRun, served: Path, server: LoopbackServer
) -> None:
    assert MINISIGN is not None
    keys = subprocess.run(
        [MINISIGN, "-G", "-W", "-p", "m.pub", "-s", "m.key"], cwd=tmp_path, capture_output=True
    )
    assert keys.returncode == 0
    build_index(served)
    signing = subprocess.run(
        [MINISIGN, "-Sm", str(served / "stone.index"), "-s", str(tmp_path / "m.key")],
        capture_output=True,
        timeout=30,
    )
    assert signing.returncode == 0
    key_line = (tmp_path / "m.pub").read_text().splitlines()[1]
    added = moss("repo", "add", "tool", server.url("stone.index"), "--key", key_line)
    assert added.code == 0, added.text
    assert moss("install", "app").code == 0


def test_unpinned_repositories_work_as_before_and_list_as_unsigned(
    root: Path, moss: MossRun, served: Path, server: LoopbackServer
) -> None:
    build_index(served)
    assert moss("repo", "add", "plain", server.url("stone.index")).code == 0
    assert "[0] unsigned" in moss("repo", "list").out
    assert moss("install", "app").code == 0
    bad = moss("repo", "add", "broken", server.url("stone.index"), "--key", "RWQnotakey")
    assert bad.code == 1 and "neither a key file nor a public key" in bad.err

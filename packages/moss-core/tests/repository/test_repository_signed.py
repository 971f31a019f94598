"""Refreshing a repository with a pinned key, over HTTP on 127.0.0.1: a root index is checked
as its index is, the record of what was accepted, and an unchanged index (HTTP 304) refused
once its signature has expired."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from root_index import write_root_index

from moss_core.installation import Installation
from moss_core.repository import Repository, RepositoryError, RootIndex, build_index, refresh
from moss_core.repository import repo_state_dir as state_dir
from moss_core.repository.signed import RECORD_NAME
from moss_core.trust.keys import sign_file
from moss_core.trust.minisign import SecretKey

from .repo_helpers import make_stone

KEY = SecretKey.generate()


def test_a_root_index_needs_its_own_signature(
    repo_dir: Path, server: Any, installation: Installation
) -> None:
    root_index = write_root_index(repo_dir, "unstable", "h1")
    snapshot = repo_dir / "main/history/h1/x86_64"
    make_stone(snapshot, "foo")
    build_index(snapshot)
    sign_file(snapshot / "stone.index", KEY)
    repo = Repository(
        "cdn",
        server.url(),
        0,
        root_index=RootIndex("stream/unstable"),
        public_key=KEY.public_key().line(),
    )
    with pytest.raises(RepositoryError) as refused:
        refresh(installation, repo)
    assert "moss-root-index.json refused: no signature" in str(refused.value)
    assert not state_dir(installation, repo).joinpath("db").exists()
    sign_file(root_index, KEY)
    assert refresh(installation, repo) == 1
    record = json.loads(state_dir(installation, repo).joinpath(RECORD_NAME).read_text())
    assert record["key"] == KEY.public_key().id_text
    assert record["index"]["version"] > 0 and record["root"]["version"] > 0


def test_an_unchanged_index_is_refused_once_expired(
    repo_dir: Path, server: Any, installation: Installation
) -> None:
    make_stone(repo_dir, "foo")
    build_index(repo_dir)
    sign_file(repo_dir / "stone.index", KEY, expires_days=1)
    repo = Repository("r", server.url("stone.index"), 0, public_key=KEY.public_key().line())
    assert refresh(installation, repo) == 1
    assert refresh(installation, repo) == 1
    assert server.seen("stone.index")[-1].headers.get("If-None-Match") is not None
    # The day passes: the server keeps answering 304 for the index it signed then.
    record_path = state_dir(installation, repo) / RECORD_NAME
    record = json.loads(record_path.read_text())
    record["index"]["expires"] = 1
    record_path.write_text(json.dumps(record))
    with pytest.raises(RepositoryError, match=r"stone.index refused: the signature expired on"):
        refresh(installation, repo)


def test_an_index_held_from_before_the_key_was_pinned_is_checked_in_full(
    repo_dir: Path, server: Any, installation: Installation
) -> None:
    make_stone(repo_dir, "foo")
    build_index(repo_dir)
    plain = Repository("r", server.url("stone.index"), 0)
    assert refresh(installation, plain) == 1
    pinned = Repository("r", server.url("stone.index"), 0, public_key=KEY.public_key().line())
    with pytest.raises(RepositoryError, match="no signature"):
        refresh(installation, pinned)
    assert "If-None-Match" not in server.seen("stone.index")[-1].headers

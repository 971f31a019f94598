"""HTTP repositories against a real server on 127.0.0.1: conditional index refresh, package
downloads through the registry source, and the errors of each."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import loopback_http as loopback
import pytest

from moss_core.db import MetaDb
from moss_core.installation import Installation
from moss_core.repository import (
    INDEX_NAME,
    Repository,
    RepositoryError,
    RepositorySource,
    build_index,
    fetch_package,
    refresh,
    repo_state_dir,
)
from moss_core.repository._transport import fetch

from .repo_helpers import make_stone, scratch_root, sha256_of


@pytest.fixture
def repo_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "served"
    directory.mkdir()
    return directory


@pytest.fixture
def server(repo_dir: Path) -> Iterator[Any]:
    yield from loopback.serving(repo_dir)


@pytest.fixture
def installation(tmp_path: Path) -> Installation:
    return scratch_root(tmp_path)


def publish(repo_dir: Path, *names: str) -> None:
    for name in names:
        make_stone(repo_dir, name)
    build_index(repo_dir)


def test_refresh_then_an_unchanged_index_costs_one_304(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo", "bar")
    repo = Repository("remote", server.url(INDEX_NAME), 0)
    state = repo_state_dir(installation, repo)

    assert refresh(installation, repo) == 2
    saved = json.loads((state / "index.json").read_text())
    (first,) = server.seen(INDEX_NAME)
    assert "If-None-Match" not in first.headers
    assert saved["etag"] and saved["last-modified"]
    index_bytes = (state / INDEX_NAME).read_bytes()
    db_stat = (state / "db").stat()

    assert refresh(installation, repo) == 2

    requests = server.seen(INDEX_NAME)
    assert len(requests) == 2
    assert requests[1].headers["If-None-Match"] == saved["etag"]
    assert requests[1].headers["If-Modified-Since"] == saved["last-modified"]
    assert (state / INDEX_NAME).read_bytes() == index_bytes
    after = (state / "db").stat()
    assert (after.st_mtime_ns, after.st_size) == (db_stat.st_mtime_ns, db_stat.st_size)
    assert not (state / f"{INDEX_NAME}.part").exists()


def test_a_changed_index_is_fetched_and_loaded(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    repo = Repository("remote", server.url(INDEX_NAME), 0)
    state = repo_state_dir(installation, repo)
    assert refresh(installation, repo) == 1
    old_etag = json.loads((state / "index.json").read_text())["etag"]

    publish(repo_dir, "bar")
    assert refresh(installation, repo) == 2
    assert json.loads((state / "index.json").read_text())["etag"] != old_etag
    with MetaDb.open(state / "db") as db:
        assert sorted(meta.name for _, meta in db.all()) == ["bar", "foo"]


def test_last_modified_alone_is_enough(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    repo = Repository("remote", server.url(INDEX_NAME), 0)
    state = repo_state_dir(installation, repo)
    refresh(installation, repo)
    saved = json.loads((state / "index.json").read_text())
    (state / "index.json").write_text(json.dumps({"last-modified": saved["last-modified"]}))

    assert refresh(installation, repo) == 1
    last = server.seen(INDEX_NAME)[-1]
    assert "If-None-Match" not in last.headers
    assert last.headers["If-Modified-Since"] == saved["last-modified"]


def test_no_conditional_request_without_an_index_and_db(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    repo = Repository("remote", server.url(INDEX_NAME), 0)
    state = repo_state_dir(installation, repo)
    refresh(installation, repo)
    (state / "db").unlink()

    assert refresh(installation, repo) == 1
    assert "If-None-Match" not in server.seen(INDEX_NAME)[-1].headers


def test_file_repositories_keep_no_validators(installation: Installation, repo_dir: Path) -> None:
    publish(repo_dir, "foo")
    repo = Repository("local", (repo_dir / INDEX_NAME).as_uri(), 0)
    assert refresh(installation, repo) == 1
    assert refresh(installation, repo) == 1
    assert not (repo_state_dir(installation, repo) / "index.json").exists()


def test_refresh_errors_keep_the_previous_index(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    uri = server.url(INDEX_NAME)
    repo = Repository("remote", uri, 0)
    state = repo_state_dir(installation, repo)
    refresh(installation, repo)
    saved = (state / "index.json").read_text()

    server.fault(INDEX_NAME, loopback.Fault(status=404))
    with pytest.raises(RepositoryError, match=rf"^{re.escape(uri)}: HTTP 404 Not Found$"):
        refresh(installation, repo)

    (repo_dir / INDEX_NAME).write_bytes(b"not an index at all")
    with pytest.raises(RepositoryError, match=rf"^{re.escape(uri)}: "):
        refresh(installation, repo)

    with MetaDb.open(state / "db") as db:
        assert [meta.name for _, meta in db.all()] == ["foo"]
    assert (state / "index.json").read_text() == saved
    assert sorted(p.name for p in state.iterdir()) == ["db", "index.json", INDEX_NAME]


def test_refresh_retries_a_500(server: Any, installation: Installation, repo_dir: Path) -> None:
    publish(repo_dir, "foo")
    repo = Repository("remote", server.url(INDEX_NAME), 0)
    server.fault(INDEX_NAME, loopback.Fault(status=500))
    assert refresh(installation, repo) == 1
    assert len(server.seen(INDEX_NAME)) == 2


def test_refresh_from_a_dead_server(installation: Installation) -> None:
    uri = f"http://127.0.0.1:{loopback.dead_port()}/{INDEX_NAME}"
    with pytest.raises(
        RepositoryError,
        match=rf"^{re.escape(uri)}: cannot connect to 127\.0\.0\.1:\d+ \(Connection refused\) "
        r"\(gave up after 4 attempts\)$",
    ):
        refresh(installation, Repository("remote", uri, 0))


def test_fetch_package_over_http(server: Any, installation: Installation, repo_dir: Path) -> None:
    make_stone(repo_dir / "f", "foo")
    publish(repo_dir)
    repo = Repository("remote", server.url(INDEX_NAME), 0)
    refresh(installation, repo)
    with MetaDb.open(repo_state_dir(installation, repo) / "db") as db:
        source = RepositorySource(repo, db, repo.uri)
        (package,) = source.all()
        path = fetch_package(installation, source, package)
        assert sha256_of(path) == package.id
        assert len(server.seen(package.meta.uri)) == 1

        assert fetch_package(installation, source, package) == path
        assert len(server.seen(package.meta.uri)) == 1

        path.unlink()
        server.fault(package.meta.uri, loopback.Fault(corrupt=True))
        with pytest.raises(RepositoryError) as caught:
            fetch_package(installation, source, package)
        assert str(caught.value).startswith(
            f"foo: {source.package_uri(package)}: sha256 mismatch, expected {package.id}, got "
        )
        assert list(path.parent.iterdir()) == []


def test_transport_streams_http(server: Any, repo_dir: Path) -> None:
    publish(repo_dir, "foo")
    chunks: list[bytes] = []
    fetch(server.url(INDEX_NAME), chunks.append)
    assert b"".join(chunks) == (repo_dir / INDEX_NAME).read_bytes()

    missing = server.url("missing")
    with pytest.raises(RepositoryError, match=rf"^{re.escape(missing)}: HTTP 404 Not Found$"):
        fetch(missing, chunks.append)

"""HTTP repositories against a real server on 127.0.0.1: conditional index refresh, package
downloads through the registry source, and the errors of each."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import loopback_http as loopback
import pytest
from root_index import write_root_index

from moss_core.db import MetaDb
from moss_core.installation import Installation
from moss_core.repository import (
    INDEX_NAME,
    Repository,
    RepositoryError,
    RepositorySource,
    RootIndex,
    build_index,
    fetch_package,
    refresh,
    repo_state_dir,
)
from moss_core.repository._transport import fetch

from .repo_helpers import make_stone, sha256_of


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


def write_limits(installation: Installation, text: str) -> None:
    config = installation.root / "etc" / "moss" / "fetch.kdl"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)


def test_an_endless_index_stops_at_the_configured_size(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    uri = server.url(INDEX_NAME)
    repo = Repository("remote", uri, 0)
    refresh(installation, repo)
    state = repo_state_dir(installation, repo)
    before = sorted(p.name for p in state.iterdir())
    write_limits(installation, "max-index-size 100_000\n")
    server.fault(INDEX_NAME, loopback.Fault(endless=True))
    publish(repo_dir, "bar")  # changed, so not a 304
    with pytest.raises(RepositoryError) as caught:
        refresh(installation, repo)
    assert str(caught.value) == f"{uri}: index larger than 100000 bytes (max-index-size)"
    assert len(server.seen(INDEX_NAME)) == 2
    assert sorted(p.name for p in state.iterdir()) == before
    with MetaDb.open(state / "db") as db:
        assert [meta.name for _, meta in db.all()] == ["foo"]


def test_an_announced_index_over_the_cap_is_refused_before_its_body(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    size = (repo_dir / INDEX_NAME).stat().st_size
    uri = server.url(INDEX_NAME)
    write_limits(installation, f"max-index-size {size}\n")
    # It announces one byte more than it is, and then stalls: no waiting for that.
    server.fault(INDEX_NAME, loopback.Fault(announce=1))
    started = time.monotonic()
    with pytest.raises(RepositoryError) as caught:
        refresh(installation, Repository("remote", uri, 0))
    assert str(caught.value) == (
        f"{uri}: index larger than {size} bytes ({size + 1} announced) (max-index-size)"
    )
    assert time.monotonic() - started < 5
    # Exactly at the cap is fine.
    assert refresh(installation, Repository("remote", uri, 0)) == 1


def test_a_file_index_that_never_ends_is_cut_off(
    installation: Installation, tmp_path: Path
) -> None:
    endless = tmp_path / "stone.index"
    endless.symlink_to("/dev/zero")
    write_limits(installation, "max-index-size 1_000_000\n")
    with pytest.raises(RepositoryError) as caught:
        refresh(installation, Repository("local", endless.as_uri(), 0))
    assert str(caught.value) == (
        f"{endless.as_uri()}: index larger than 1000000 bytes (max-index-size)"
    )


def test_a_trickling_index_is_abandoned_at_the_configured_floor(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    uri = server.url(INDEX_NAME)
    write_limits(installation, "speed-limit 100\nspeed-time 1\n")
    server.fault(INDEX_NAME, loopback.Fault(trickle=0.25))
    started = time.monotonic()
    with pytest.raises(RepositoryError) as caught:
        refresh(installation, Repository("remote", uri, 0))
    assert str(caught.value) == (
        f"{uri}: transfer too slow: less than 100 bytes/s for 1 s (speed-limit, speed-time)"
    )
    assert 0.9 < time.monotonic() - started < 4
    assert len(server.seen(INDEX_NAME)) == 1


def test_the_root_index_is_held_to_the_floor_too(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    write_root_index(repo_dir, "unstable", "h1")
    write_limits(installation, "speed-limit 100\nspeed-time 0.5\n")
    root_index = "main/moss-root-index.json"
    server.fault(root_index, loopback.Fault(trickle=0.25))
    repo = Repository("cdn", server.url(""), 0, root_index=RootIndex("stream/unstable"))
    with pytest.raises(RepositoryError, match="transfer too slow"):
        refresh(installation, repo)
    assert len(server.seen(root_index)) == 1


def test_redirects_over_http_are_followed_but_a_loop_is_one_line(
    server: Any, installation: Installation, repo_dir: Path
) -> None:
    publish(repo_dir, "foo")
    (repo_dir / "moved").mkdir()
    (repo_dir / INDEX_NAME).rename(repo_dir / "moved" / INDEX_NAME)
    uri = server.url(INDEX_NAME)
    server.fault(INDEX_NAME, loopback.Fault(redirect=f"/moved/{INDEX_NAME}"))
    assert refresh(installation, Repository("remote", uri, 0)) == 1

    loop = server.url("loop")
    server.fault("loop", *[loopback.Fault(redirect="/loop")] * 20)
    with pytest.raises(RepositoryError) as caught:
        refresh(installation, Repository("looping", loop, 0))
    assert str(caught.value) == f"{loop}: too many redirects (stopped after 10)"


def test_a_redirect_to_a_file_is_refused_without_a_retry(
    server: Any, installation: Installation
) -> None:
    uri = server.url(INDEX_NAME)
    server.fault(INDEX_NAME, *[loopback.Fault(redirect="file:///etc/shadow")] * 5)
    with pytest.raises(RepositoryError) as caught:
        refresh(installation, Repository("remote", uri, 0))
    assert str(caught.value) == (
        f"{uri}: redirected to file:///etc/shadow, which is not an http or https URL"
    )
    assert len(server.seen(INDEX_NAME)) == 1

"""moss against repositories served over HTTP on 127.0.0.1: pull-in across two repositories of
different priority, sync downgrades, export/import, an interrupted download that resumes, and
a corrupt or missing package that changes nothing."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loopback_http import Fault, LoopbackServer, serving
from root_index import write_root_index

from moss_core.repository import build_index

from .helpers import MossRun, make_stone, run_moss_process


@pytest.fixture
def high(tmp_path: Path) -> Iterator[LoopbackServer]:
    directory = tmp_path / "high"
    directory.mkdir()
    make_stone(
        directory,
        "app",
        {"bin/app": b"app 2"},
        version="2",
        release=2,
        depends=["soname(libhelper.so.1(x86_64))"],
    )
    build_index(directory)
    yield from serving(directory)


@pytest.fixture
def low(tmp_path: Path) -> Iterator[LoopbackServer]:
    directory = tmp_path / "low"
    directory.mkdir()
    make_stone(
        directory,
        "app",
        {"bin/app": b"app 1"},
        version="1",
        release=1,
        depends=["soname(libhelper.so.1(x86_64))"],
    )
    make_stone(
        directory,
        "helper",
        {"lib/libhelper.so.1": random.Random(1).randbytes(30_000)},
        provides=["soname(libhelper.so.1(x86_64))"],
    )
    build_index(directory)
    yield from serving(directory)


def _installed(moss: MossRun) -> dict[str, str]:
    return {
        p["name"]: f"{p['version']}-{p['release']}"
        for p in json.loads(moss("list", "installed", "--json").out)
    }


def test_pull_in_across_priorities_then_sync_downgrades(
    root: Path, moss: MossRun, high: LoopbackServer, low: LoopbackServer
) -> None:
    assert moss("repo", "add", "high", high.url("stone.index"), "-p", "10").code == 0
    assert moss("repo", "add", "low", low.url("stone.index"), "-p", "1").code == 0
    result = moss("install", "app")
    assert result.code == 0, result.text
    assert _installed(moss) == {"app": "2-2", "helper": "1.0-1"}
    assert (root / "usr/bin/app").read_bytes() == b"app 2"
    assert moss("repo", "remove", "high").code == 0
    synced = moss("sync")
    assert synced.code == 0, synced.text
    assert "app 2-2 -> 1-1" in synced.out
    assert _installed(moss) == {"app": "1-1", "helper": "1.0-1"}
    assert (root / "usr/bin/app").read_bytes() == b"app 1"


def test_sync_update_refreshes_with_one_round_trip_when_unchanged(
    moss: MossRun, low: LoopbackServer
) -> None:
    assert moss("repo", "add", "low", low.url("stone.index")).code == 0
    before = len(low.seen("stone.index"))
    assert moss("sync", "-u").code == 0
    requests = low.seen("stone.index")[before:]
    assert len(requests) == 1
    assert "If-None-Match" in requests[0].headers or "If-Modified-Since" in requests[0].headers


def test_export_and_import_over_http(tmp_path: Path, moss: MossRun, low: LoopbackServer) -> None:
    assert moss("repo", "add", "low", low.url("stone.index")).code == 0
    assert moss("install", "app").code == 0
    model = tmp_path / "model.kdl"
    assert moss("state", "export", "-o", str(model)).code == 0
    other = tmp_path / "elsewhere"
    other.mkdir()
    imported = run_moss_process(other, "-y", "sync", "--import", str(model))
    assert imported.returncode == 0, imported.stderr
    ids = lambda out: {p["id"] for p in json.loads(out)}  # noqa: E731
    assert ids(run_moss_process(other, "list", "installed", "--json").stdout) == ids(
        moss("list", "installed", "--json").out
    )


def test_interrupted_download_resumes(root: Path, moss: MossRun, low: LoopbackServer) -> None:
    assert moss("repo", "add", "low", low.url("stone.index")).code == 0
    helper = next(p for p in low.root.glob("helper-*.stone"))
    low.fault(helper.name, Fault(cut_after=1000))
    result = moss("install", "app")
    assert result.code == 0, result.text
    ranges = [s.headers.get("Range") for s in low.seen(helper.name)]
    assert ranges[0] is None and ranges[-1] == "bytes=1000-"
    assert _installed(moss) == {"app": "1-1", "helper": "1.0-1"}


@pytest.mark.parametrize("fault", [Fault(status=404), Fault(corrupt=True)])
def test_broken_download_changes_nothing(
    root: Path, moss: MossRun, low: LoopbackServer, fault: Fault
) -> None:
    assert moss("repo", "add", "low", low.url("stone.index")).code == 0
    app = next(p for p in low.root.glob("app-*.stone"))
    low.fault(app.name, fault, fault, fault, fault, fault)
    result = moss("install", "app")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "app" in result.err and app.name in result.err
    assert not (root / "usr/.stateID").exists()
    assert moss("state", "list", "--json").out.strip() == "[]"


def test_a_root_index_repository_over_http(root: Path, moss: MossRun, tmp_path: Path) -> None:
    cdn = tmp_path / "cdn"
    snapshot = cdn / "main" / "history" / "h1" / "x86_64"
    snapshot.mkdir(parents=True)
    make_stone(snapshot, "tool", {"bin/tool": b"tool 1"})
    build_index(snapshot)
    write_root_index(cdn, "unstable", "h1")
    for server in serving(cdn):
        base = server.url("")
        bad = moss("repo", "add", "cdn", base, "--root-index", "channel=main")
        assert bad.code == 1 and "needs a version" in bad.err, bad
        added = moss("repo", "add", "cdn", base, "--root-index", "version=stream/unstable")
        assert added.code == 0 and "cdn added (1 packages)" in added.out, added
        listed = moss("repo", "list").out
        assert f"(base-uri={base}, channel=main, version=stream/unstable, arch=x86_64)" in listed
        assert moss("-y", "install", "tool").code == 0
    assert (root / "usr/bin/tool").read_bytes() == b"tool 1"


def _limit(root: Path, text: str) -> None:
    config = root / "etc" / "moss" / "fetch.kdl"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)


def test_a_trickling_server_ends_repo_add_and_install_within_the_window(
    root: Path, moss: MossRun, low: LoopbackServer
) -> None:
    _limit(root, "speed-limit 200\nspeed-time 0.5\n")
    low.fault("stone.index", Fault(trickle=0.5))
    started = time.monotonic()
    added = moss("repo", "add", "low", low.url("stone.index"))
    assert added.code == 1 and added.err.count("\n") == 1, added
    assert "transfer too slow: less than 200 bytes/s for 0.5 s" in added.err
    assert moss("repo", "add", "low", low.url("stone.index")).code == 0
    app = next(p for p in low.root.glob("app-*.stone"))
    low.fault(app.name, Fault(trickle=0.5))
    result = moss("install", "app")
    assert result.code == 1 and result.err.count("\n") == 1, result
    assert f"app: {low.url(app.name)}: transfer too slow" in result.err
    assert time.monotonic() - started < 8
    assert not (root / "usr/.stateID").exists()


def test_an_endless_index_and_a_package_larger_than_declared_change_nothing(
    root: Path, moss: MossRun, low: LoopbackServer
) -> None:
    _limit(root, "max-index-size 50_000\n")
    low.fault("stone.index", Fault(endless=True))
    added = moss("repo", "add", "low", low.url("stone.index"))
    assert added.code == 1, added
    assert added.err.strip().endswith("index larger than 50000 bytes (max-index-size)")
    assert moss("repo", "add", "low", low.url("stone.index")).code == 0
    app = next(p for p in low.root.glob("app-*.stone"))
    low.fault(app.name, Fault(endless=True))
    result = moss("install", "app")
    assert result.code == 1 and result.err.count("\n") == 1, result
    assert "size mismatch, expected" in result.err and "got more" in result.err
    assert not (root / "usr/.stateID").exists()
    assert moss("state", "list", "--json").out.strip() == "[]"

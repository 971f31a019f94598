"""The fetch pipeline against a real HTTP server on 127.0.0.1: parallel, verified, overlapping
the unpacks, and usable from plain synchronous code."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from loopback_http import Fault, LoopbackServer, Recorder, index_packages, make_package

from moss_core.client import cache
from moss_core.db import LayoutDb, MetaDb
from moss_core.fetch import FetchJob, fetch_all
from moss_core.installation import Installation
from moss_core.registry import Package
from moss_core.repository import RepositoryError


def http_jobs(
    server: LoopbackServer, installation: Installation, packages: Sequence[Package]
) -> list[FetchJob]:
    return [
        FetchJob(p, server.url(p.meta.uri or ""), installation.download_path(p.id))
        for p in packages
    ]


def build(repo_dir: Path, count: int, size: int = 4096) -> list[Package]:
    for number in range(count):
        make_package(repo_dir, f"pkg{number:02d}", size=size + number)
    return index_packages(repo_dir)


def test_downloads_are_verified_and_each_handed_over_once(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    packages = build(repo_dir, 12)
    jobs = http_jobs(server, installation, packages)
    ready: list[tuple[str, Path, int]] = []
    progress = Recorder()

    fetch_all(
        jobs,
        lambda job, path: ready.append((job.package.name, path, threading.get_ident())),
        parallel=4,
        progress=progress,
    )

    assert sorted(name for name, _, _ in ready) == sorted(p.name for p in packages)
    for job in jobs:
        assert job.target.read_bytes() == (repo_dir / (job.package.meta.uri or "")).read_bytes()
        assert not job.part.exists()
    # One unpack thread, not the caller's; progress only on the caller's thread.
    assert len({thread for _, _, thread in ready}) == 1
    assert threading.get_ident() not in {thread for _, _, thread in ready}
    assert progress.threads == {threading.get_ident()}
    for package in packages:
        mine = [(w, v) for w, n, v in progress.events if n == package.name]
        assert mine[0] == ("start", package.meta.download_size)
        assert mine[-1] == ("finish", None)
        assert progress.advanced(package.name) == package.meta.download_size
    assert server.max_in_flight <= 4


def test_at_most_parallel_in_flight_and_unpacks_overlap_downloads(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    packages = build(repo_dir, 8)
    jobs = http_jobs(server, installation, packages)
    slow = jobs[-1]
    server.fault(slow.uri.removeprefix(server.url()), Fault(delay=1.0))
    for job in jobs[:-1]:
        server.fault(job.uri.removeprefix(server.url()), Fault(delay=0.1))
    slow_present_at_unpack: list[bool] = []

    def on_ready(job: FetchJob, path: Path) -> None:
        if job is not slow:
            slow_present_at_unpack.append(slow.target.exists())

    started = time.monotonic()
    fetch_all(jobs, on_ready, parallel=3)
    elapsed = time.monotonic() - started

    assert server.max_in_flight == 3
    # Seven fast packages were unpacked while the slow one was still on its way.
    assert slow_present_at_unpack == [False] * 7
    assert slow.target.exists()
    assert elapsed < 2.5


def test_sequential_mode_fetches_and_unpacks_one_at_a_time(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    packages = build(repo_dir, 5)
    jobs = http_jobs(server, installation, packages)
    order: list[tuple[str, int]] = []

    fetch_all(
        jobs, lambda job, _: order.append((job.package.name, len(server.requests))), parallel=1
    )

    # Each package is unpacked before the next one is requested.
    assert order == [(job.package.name, number + 1) for number, job in enumerate(jobs)]
    assert server.max_in_flight == 1


def test_a_valid_cached_copy_is_not_fetched_again_and_a_bad_one_is(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    packages = build(repo_dir, 3)
    jobs = http_jobs(server, installation, packages)
    fetch_all(jobs, lambda *_: None)
    assert len(server.requests) == 3

    jobs[1].target.write_bytes(b"not a package")
    ready: list[str] = []
    progress = Recorder()
    fetch_all(jobs, lambda job, _: ready.append(job.package.name), progress=progress)

    assert [seen.path for seen in server.requests[3:]] == [jobs[1].package.meta.uri]
    assert sorted(ready) == sorted(p.name for p in packages)
    assert jobs[1].target.read_bytes() == (repo_dir / (packages[1].meta.uri or "")).read_bytes()
    for package in packages:
        assert progress.advanced(package.name) == package.meta.download_size


def test_callable_from_a_thread_without_an_event_loop(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    jobs = http_jobs(server, installation, build(repo_dir, 3))
    outcome: list[object] = []

    def worker() -> None:
        try:
            fetch_all(jobs, lambda *_: None)
            outcome.append("ok")
        except BaseException as err:
            outcome.append(err)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(20)
    assert outcome == ["ok"]
    assert all(job.target.exists() for job in jobs)


def test_file_uris_are_a_verified_copy(installation: Installation, repo_dir: Path) -> None:
    packages = build(repo_dir, 3)
    jobs = [
        FetchJob(p, (repo_dir / (p.meta.uri or "")).as_uri(), installation.download_path(p.id))
        for p in packages
    ]
    progress = Recorder()
    fetch_all(jobs, lambda *_: None, progress=progress)
    for job in jobs:
        assert job.target.read_bytes() == (repo_dir / (job.package.meta.uri or "")).read_bytes()
        assert progress.advanced(job.package.name) == job.package.meta.download_size

    broken = jobs[0]
    broken.target.unlink()
    source = repo_dir / (broken.package.meta.uri or "")
    data = bytearray(source.read_bytes())
    data[100] ^= 0x01
    source.write_bytes(bytes(data))
    with pytest.raises(RepositoryError, match=rf"^{broken.package.name}: {broken.uri}: sha256 "):
        fetch_all([broken], lambda *_: None)
    assert not broken.target.exists() and not broken.part.exists()


def test_a_file_uri_on_the_same_file_system_is_linked_not_copied(
    installation: Installation, repo_dir: Path
) -> None:
    (package,) = build(repo_dir, 1)
    source = repo_dir / (package.meta.uri or "")
    job = FetchJob(package, source.as_uri(), installation.download_path(package.id))
    progress = Recorder()
    fetch_all([job], lambda *_: None, progress=progress)
    assert job.target.stat().st_ino == source.stat().st_ino
    assert progress.advanced(package.name) == package.meta.download_size


def test_a_missing_local_file_leaves_nothing(installation: Installation, repo_dir: Path) -> None:
    (package,) = build(repo_dir, 1)
    source = repo_dir / (package.meta.uri or "")
    source.unlink()
    job = FetchJob(package, source.as_uri(), installation.download_path(package.id))
    with pytest.raises(
        RepositoryError, match=rf"^pkg00: {source.as_uri()}: No such file or directory$"
    ):
        fetch_all([job], lambda *_: None)
    assert list(job.target.parent.iterdir()) == []


def test_unpacks_into_the_store_while_downloading(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    packages = build(repo_dir, 10, size=20_000)
    jobs = http_jobs(server, installation, packages)
    with (
        MetaDb.open(installation.db_dir / "install") as install_db,
        LayoutDb.open(installation.db_dir / "layout") as layout_db,
    ):
        with cache.Unpacker(installation, install_db, layout_db, workers=2) as unpacker:
            fetch_all(jobs, lambda job, path: unpacker.unpack(job.package, path), unpackers=2)
        for package in packages:
            assert cache.is_cached(install_db, layout_db, package.id)
    assert sum(1 for p in (installation.assets_dir / "v2").rglob("*") if p.is_file()) == 10


def test_duplicate_jobs_are_fetched_once(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    (job,) = http_jobs(server, installation, build(repo_dir, 1))
    ready: list[FetchJob] = []
    fetch_all([job, job], lambda j, _: ready.append(j))
    assert ready == [job]
    assert len(server.requests) == 1


def test_nothing_to_do_and_bad_parallelism() -> None:
    fetch_all([], lambda *_: None)
    with pytest.raises(ValueError, match="parallel must be at least 1"):
        fetch_all([], lambda *_: None, parallel=0)
    with pytest.raises(ValueError, match="retries must not be negative"):
        fetch_all([], lambda *_: None, retries=-1)

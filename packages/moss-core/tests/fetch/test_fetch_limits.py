"""The bounds of a package download against a hostile server on 127.0.0.1: a body larger than
the index says, a trickle under the speed floor, redirect loops and redirects away from HTTP.
Each ends at once, in one line naming the package and URL, without retrying what a retry
cannot mend, and leaves nothing in the cache."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest
from loopback_http import Fault, LoopbackServer, index_packages, make_package

from moss_core.fetch import FetchJob, fetch_all
from moss_core.installation import Installation
from moss_core.registry import Package
from moss_core.repository import RepositoryError, TransferLimits

FAST = {"backoff": 0.01}


def one_job(
    server: LoopbackServer, installation: Installation, repo_dir: Path, size: int = 20_000
) -> tuple[FetchJob, str]:
    make_package(repo_dir, "pkg", size=size)
    (package,) = index_packages(repo_dir)
    relative = package.meta.uri or ""
    return FetchJob(package, server.url(relative), installation.download_path(package.id)), relative


def test_an_endless_body_is_cut_off_at_the_declared_size(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative = one_job(server, installation, repo_dir)
    server.fault(relative, Fault(endless=True))
    started = time.monotonic()
    with pytest.raises(
        RepositoryError,
        match=rf"^pkg: {re.escape(job.uri)}: size mismatch, expected "
        rf"{job.expected_size} bytes, got more$",
    ):
        fetch_all([job], lambda *_: None, **FAST)
    assert time.monotonic() - started < 5
    assert len(server.seen(relative)) == 1
    assert list(job.target.parent.iterdir()) == []


def test_a_package_of_no_declared_size_is_held_to_max_download_size(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative = one_job(server, installation, repo_dir)
    unsized = Package(job.package.id, replace(job.package.meta, download_size=None), "loopback")
    job = FetchJob(unsized, job.uri, job.target)
    server.fault(relative, Fault(endless=True))
    with pytest.raises(RepositoryError) as caught:
        fetch_all([job], lambda *_: None, limits=TransferLimits(max_download_bytes=100_000))
    assert str(caught.value) == (
        f"pkg: {job.uri}: larger than 100000 bytes (more; max-download-size)"
    )
    assert list(job.target.parent.iterdir()) == []


def test_a_larger_announced_length_is_refused_before_the_body(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    # The server announces more than the index allows, sends the file and then stalls: the
    # announcement alone is enough to refuse, with no wait for the body or for a timeout.
    job, relative = one_job(server, installation, repo_dir)
    server.fault(relative, Fault(announce=1_000_000))
    started = time.monotonic()
    with pytest.raises(
        RepositoryError,
        match=rf"^pkg: {re.escape(job.uri)}: size mismatch, expected {job.expected_size} "
        rf"bytes, got {(job.expected_size or 0) + 1_000_000} announced$",
    ):
        fetch_all([job], lambda *_: None, limits=TransferLimits(timeout=20), **FAST)
    assert time.monotonic() - started < 5
    assert len(server.seen(relative)) == 1
    assert list(job.target.parent.iterdir()) == []


def test_a_trickle_under_the_speed_floor_is_abandoned(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative = one_job(server, installation, repo_dir)
    server.fault(relative, Fault(trickle=0.2))
    limits = TransferLimits(timeout=20, speed_limit=100, speed_time=1.0)
    started = time.monotonic()
    with pytest.raises(
        RepositoryError,
        match=rf"^pkg: {re.escape(job.uri)}: transfer too slow: less than 100 bytes/s for 1 s "
        r"\(speed-limit, speed-time\)$",
    ):
        fetch_all([job], lambda *_: None, limits=limits, **FAST)
    # One window of one second, and no retry: a retry would only trickle again.
    assert 0.9 < time.monotonic() - started < 4
    assert len(server.seen(relative)) == 1


def test_a_slow_transfer_above_the_floor_completes(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    # Each window brings its quota, though the whole transfer takes several windows.
    job, relative = one_job(server, installation, repo_dir, size=10)
    # About 450 bytes at 333 bytes/s, well above the floor: some 1.3 s, four windows or more
    # (at 500 bytes/s the transfer took exactly three windows once).
    server.fault(relative, Fault(trickle=0.003))
    limits = TransferLimits(speed_limit=50, speed_time=0.3)
    started = time.monotonic()
    fetch_all([job], lambda *_: None, limits=limits, **FAST)
    assert time.monotonic() - started > 3 * limits.speed_time
    assert job.target.is_file()
    assert len(server.seen(relative)) == 1


def test_a_redirect_loop_is_one_line_and_not_retried(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative = one_job(server, installation, repo_dir)
    server.fault(relative, *[Fault(redirect=f"/{relative}")] * 40)
    with pytest.raises(RepositoryError) as caught:
        fetch_all([job], lambda *_: None, **FAST)
    assert str(caught.value) == f"pkg: {job.uri}: too many redirects (stopped after 10)"
    assert len(server.seen(relative)) == 10


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/"])
def test_a_redirect_away_from_http_is_refused_at_once(
    server: LoopbackServer, installation: Installation, repo_dir: Path, target: str
) -> None:
    job, relative = one_job(server, installation, repo_dir)
    server.fault(relative, *[Fault(redirect=target)] * 5)
    with pytest.raises(RepositoryError) as caught:
        fetch_all([job], lambda *_: None, **FAST)
    assert str(caught.value) == (
        f"pkg: {job.uri}: redirected to {target}, which is not an http or https URL"
    )
    assert len(server.seen(relative)) == 1
    assert list(job.target.parent.iterdir()) == []


def test_a_local_package_that_never_ends_is_cut_off(repo_dir: Path, tmp_path: Path) -> None:
    # A repository file that is a link to /dev/zero, copied to a cache on another file system
    # (no hard link there): it would fill the disk but for the size the index gives.
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the test's directory")
    (tmp_path / "root").mkdir()
    with tempfile.TemporaryDirectory(dir=shm) as cache:
        installation = Installation.open(tmp_path / "root", cache=cache)
        make_package(repo_dir, "pkg")
        (package,) = index_packages(repo_dir)
        endless = repo_dir / "endless.stone"
        endless.symlink_to("/dev/zero")
        job = FetchJob(package, endless.as_uri(), installation.download_path(package.id))
        with pytest.raises(
            RepositoryError,
            match=rf"^pkg: {re.escape(job.uri)}: size mismatch, expected "
            rf"{package.meta.download_size} bytes, got more$",
        ):
            fetch_all([job], lambda *_: None)
        assert list(job.target.parent.iterdir()) == []

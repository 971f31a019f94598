"""The fetch pipeline when the server misbehaves: resumes, retries, and one-line errors naming
the package and URL, with nothing unverified left behind."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path

import pytest
from loopback_http import (
    Fault,
    LoopbackServer,
    Recorder,
    dead_port,
    index_packages,
    make_package,
    self_signed,
    serving,
)

from moss_core.fetch import FetchJob, fetch_all
from moss_core.installation import Installation
from moss_core.registry import Package
from moss_core.repository import RepositoryError, TransferLimits

FAST = {"backoff": 0.01}


def one_job(
    server: LoopbackServer, installation: Installation, repo_dir: Path, size: int = 200_000
) -> tuple[FetchJob, str, bytes]:
    """A package of about `size` bytes, its job, its path on the server and its bytes."""
    make_package(repo_dir, "big", size=size)
    (package,) = index_packages(repo_dir)
    relative = package.meta.uri or ""
    job = FetchJob(package, server.url(relative), installation.download_path(package.id))
    return job, relative, (repo_dir / relative).read_bytes()


def ranges(server: LoopbackServer, relative: str) -> list[str | None]:
    return [seen.headers.get("Range") for seen in server.seen(relative)]


def test_connection_dropped_mid_body_resumes_with_range(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    half = len(data) // 2
    server.fault(relative, Fault(cut_after=half))

    fetch_all([job], lambda *_: None, **FAST)

    assert ranges(server, relative) == [None, f"bytes={half}-"]
    assert job.target.read_bytes() == data
    assert not job.part.exists()


def test_interrupted_download_resumes_across_runs(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    half = len(data) // 2
    job.part.parent.mkdir(parents=True)
    job.part.write_bytes(data[:half])
    progress = Recorder()
    fetch_all([job], lambda *_: None, progress=progress)

    assert ranges(server, relative) == [f"bytes={half}-"]
    assert job.target.read_bytes() == data
    # The half already there counts, so a progress bar ends full.
    assert progress.advances("big")[0] == half
    assert progress.advanced("big") == len(data)


def test_a_complete_part_is_not_requested_again(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    job.part.parent.mkdir(parents=True)
    job.part.write_bytes(data)
    fetch_all([job], lambda *_: None)
    assert server.seen(relative) == []
    assert job.target.read_bytes() == data


def test_server_ignoring_range_restarts_the_download(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    job.part.parent.mkdir(parents=True)
    job.part.write_bytes(data[:1000])
    server.fault(relative, Fault(ignore_range=True))
    progress = Recorder()
    fetch_all([job], lambda *_: None, progress=progress)
    assert ranges(server, relative) == ["bytes=1000-"]
    assert progress.advances("big")[:2] == [1000, -1000]
    assert progress.advanced("big") == len(data)
    assert job.target.read_bytes() == data


def test_a_bad_partial_download_is_dropped_and_fetched_whole(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    job.part.parent.mkdir(parents=True)
    job.part.write_bytes(b"x" * 1000)
    fetch_all([job], lambda *_: None)
    assert ranges(server, relative) == ["bytes=1000-", None]
    assert job.target.read_bytes() == data


def test_wrong_bytes_fail_and_leave_nothing(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, _ = one_job(server, installation, repo_dir)
    server.fault(relative, Fault(corrupt=True))
    ready: list[FetchJob] = []
    with pytest.raises(RepositoryError) as caught:
        fetch_all([job], lambda j, _: ready.append(j))
    message = str(caught.value)
    assert re.fullmatch(
        rf"big: {re.escape(job.uri)}: sha256 mismatch, expected {job.package.id}, "
        r"got [0-9a-f]{64}",
        message,
    )
    assert "\n" not in message
    assert ready == []
    assert list(job.target.parent.iterdir()) == []


def test_a_body_larger_than_the_index_says_is_cut_off(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    (repo_dir / relative).write_bytes(data + b"trailing")
    with pytest.raises(
        RepositoryError,
        match=rf"^big: {re.escape(job.uri)}: size mismatch, expected {len(data)} bytes, "
        rf"got {len(data) + 8} announced$",
    ):
        fetch_all([job], lambda *_: None)
    assert list(job.target.parent.iterdir()) == []


def test_a_short_complete_body_is_a_size_mismatch(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    (repo_dir / relative).write_bytes(data[:-10])
    with pytest.raises(
        RepositoryError,
        match=rf"^big: {re.escape(job.uri)}: size mismatch, expected {len(data)} bytes, "
        rf"got {len(data) - 10}$",
    ):
        fetch_all([job], lambda *_: None)
    assert list(job.target.parent.iterdir()) == []


def test_404_is_not_retried(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, _ = one_job(server, installation, repo_dir)
    (repo_dir / relative).unlink()
    with pytest.raises(RepositoryError, match=rf"^big: {re.escape(job.uri)}: HTTP 404 Not Found$"):
        fetch_all([job], lambda *_: None, **FAST)
    assert len(server.seen(relative)) == 1


def test_500_then_success_is_retried(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    server.fault(relative, Fault(status=500), Fault(status=503))
    fetch_all([job], lambda *_: None, **FAST)
    assert len(server.seen(relative)) == 3
    assert job.target.read_bytes() == data


def test_500_every_time_gives_up_after_the_retries(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, _ = one_job(server, installation, repo_dir)
    server.fault(relative, *[Fault(status=500)] * 5)
    with pytest.raises(
        RepositoryError,
        match=rf"^big: {re.escape(job.uri)}: HTTP 500 Internal Server Error "
        r"\(gave up after 3 attempts\)$",
    ):
        fetch_all([job], lambda *_: None, retries=2, **FAST)
    assert len(server.seen(relative)) == 3


def test_backoff_grows_exponentially(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, _ = one_job(server, installation, repo_dir)
    server.fault(relative, *[Fault(status=500)] * 3)
    started = time.monotonic()
    fetch_all([job], lambda *_: None, retries=3, backoff=0.1)
    # 0.1 + 0.2 + 0.4 between the four attempts.
    assert 0.7 <= time.monotonic() - started < 3


def test_dead_server(installation: Installation, repo_dir: Path) -> None:
    make_package(repo_dir, "big")
    (package,) = index_packages(repo_dir)
    uri = f"http://127.0.0.1:{dead_port()}/{package.meta.uri}"
    job = FetchJob(package, uri, installation.download_path(package.id))
    with pytest.raises(RepositoryError) as caught:
        fetch_all([job], lambda *_: None, retries=2, **FAST)
    assert re.fullmatch(
        rf"big: {re.escape(uri)}: cannot connect to 127\.0\.0\.1:\d+ \(Connection refused\) "
        r"\(gave up after 3 attempts\)",
        str(caught.value),
    )
    assert not job.target.exists() and not job.part.exists()


def test_a_stalled_body_times_out_then_resumes(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    server.fault(relative, Fault(stall=2.0))
    started = time.monotonic()
    fetch_all([job], lambda *_: None, limits=TransferLimits(timeout=0.3), **FAST)
    assert time.monotonic() - started < 2.0
    (first, second) = ranges(server, relative)
    assert first is None and second is not None and second.startswith("bytes=")
    assert job.target.read_bytes() == data


def test_slow_server_within_the_timeout(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    job, relative, data = one_job(server, installation, repo_dir)
    server.fault(relative, Fault(delay=0.5))
    fetch_all([job], lambda *_: None, limits=TransferLimits(timeout=2.0))
    assert len(server.seen(relative)) == 1
    assert job.target.read_bytes() == data


def many(server: LoopbackServer, installation: Installation, repo_dir: Path) -> list[FetchJob]:
    for number in range(6):
        make_package(repo_dir, f"p{number}", size=2000)
    packages: list[Package] = index_packages(repo_dir)
    return [
        FetchJob(p, server.url(p.meta.uri or ""), installation.download_path(p.id))
        for p in packages
    ]


def test_first_failure_cancels_the_rest_and_waits_for_the_unpack(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    jobs = many(server, installation, repo_dir)
    broken, quick, slow = jobs[0], jobs[1], jobs[2:]
    server.fault(broken.uri.removeprefix(server.url()), Fault(delay=0.3, status=404))
    for job in slow:
        server.fault(job.uri.removeprefix(server.url()), Fault(delay=5.0))
    unpack_done = threading.Event()

    def on_ready(job: FetchJob, path: Path) -> None:
        time.sleep(0.6)  # still unpacking when the 404 arrives
        unpack_done.set()

    started = time.monotonic()
    with pytest.raises(RepositoryError, match=rf"^{broken.package.name}: .*: HTTP 404"):
        fetch_all(jobs, on_ready, parallel=6, **FAST)
    assert time.monotonic() - started < 3
    assert unpack_done.is_set()
    assert quick.target.exists()
    assert not any(job.target.exists() for job in slow)


def test_an_unpack_failure_stops_the_downloads(
    server: LoopbackServer, installation: Installation, repo_dir: Path
) -> None:
    jobs = many(server, installation, repo_dir)
    for job in jobs[1:]:
        server.fault(job.uri.removeprefix(server.url()), Fault(delay=5.0))

    class Broken(RepositoryError):
        pass

    def on_ready(job: FetchJob, path: Path) -> None:
        raise Broken(f"{job.package.name}: cannot unpack")

    started = time.monotonic()
    with pytest.raises(Broken, match=rf"^{jobs[0].package.name}: cannot unpack$"):
        fetch_all(jobs, on_ready, parallel=6)
    assert time.monotonic() - started < 3


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_an_untrusted_certificate_is_refused_without_retrying(
    installation: Installation, repo_dir: Path, tmp_path: Path
) -> None:
    make_package(repo_dir, "big")
    (package,) = index_packages(repo_dir)
    for server in serving(repo_dir, tls=self_signed(tmp_path)):
        job = FetchJob(
            package, server.url(package.meta.uri or ""), installation.download_path(package.id)
        )
        with pytest.raises(
            RepositoryError,
            match=rf"^big: {re.escape(job.uri)}: TLS certificate not accepted: .*certificate",
        ):
            fetch_all([job], lambda *_: None, **FAST)
        # The handshake fails before any request: retrying would not help, so there is none.
        assert server.requests == []
    assert not job.part.exists()

"""Mutual TLS to an existing scheduler: the credentials checked before any connection, and a
real `dask scheduler --protocol tls` with a real `dask worker` building the toy recipes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest

from summit.errors import SummitError
from summit.executor import client_security
from summit.tls import TlsFiles, tls_files

from .certs import Authority, Credentials
from .conftest import RUN_TIMEOUT, Toy, kill_group, write_recipe

DASK = str(Path(sys.executable).with_name("dask"))
ADDRESS = "tls://127.0.0.1:8786"


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    names = ("ca.pem", "client.crt", "client.key")
    for name in names:
        (tmp_path / name).write_text("pem\n")
    ca, cert, key = (tmp_path / n for n in names)
    return ca, cert, key


def test_all_three_files_or_none(tmp_path: Path) -> None:
    ca, cert, key = _files(tmp_path)
    assert tls_files(ADDRESS, None, None, None) is None
    assert tls_files(ADDRESS, ca, cert, key) == TlsFiles(ca, cert, key)
    with pytest.raises(SummitError) as caught:
        tls_files(ADDRESS, ca, None, None)
    assert str(caught.value) == (
        "--tls-ca-file, --tls-cert, --tls-key go together: --tls-cert, --tls-key missing"
    )


def test_each_file_must_be_readable(tmp_path: Path) -> None:
    ca, cert, _key = _files(tmp_path)
    with pytest.raises(SummitError) as caught:
        tls_files(ADDRESS, ca, cert, tmp_path / "nokey")
    assert str(caught.value) == (
        f"--tls-key {tmp_path / 'nokey'}: cannot read it: No such file or directory"
    )


@pytest.mark.parametrize("scheduler", [None, "tcp://127.0.0.1:8786"])
def test_files_only_for_a_tls_scheduler(tmp_path: Path, scheduler: str | None) -> None:
    with pytest.raises(SummitError, match=r"are for a tls:// --scheduler, not "):
        tls_files(scheduler, *_files(tmp_path))


def test_dask_configuration_is_the_other_source(tmp_path: Path) -> None:
    ca, cert, key = _files(tmp_path)
    with pytest.raises(SummitError, match="a TLS scheduler needs a CA file, a client cert"):
        client_security(ADDRESS, None)
    configured = {
        "distributed.comm.tls.ca-file": str(ca),
        "distributed.comm.tls.client.cert": str(cert),
        "distributed.comm.tls.client.key": str(key),
    }
    with dask.config.set(configured):
        security = client_security(ADDRESS, None)
        assert (security.tls_ca_file, security.tls_client_cert) == (str(ca), str(cert))
    unreadable = configured | {"distributed.comm.tls.client.key": "/nonexistent"}
    with dask.config.set(unreadable), pytest.raises(SummitError) as caught:
        client_security(ADDRESS, None)
    assert str(caught.value) == (
        "Dask's distributed.comm.tls.client.key /nonexistent: cannot read it: "
        "No such file or directory"
    )
    # Files given on the command line win over the configuration.
    security = client_security(ADDRESS, TlsFiles(ca, cert, key))
    assert security.require_encryption and security.tls_client_key == str(key)


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@contextlib.contextmanager
def _started(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own; it and all it started are killed on the way out."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        kill_group(process.pid)
        process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not _gone(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(process.pid), f"a process of `{' '.join(command[:2])}` survived"


def _address(scheduler_file: Path, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
            return str(json.loads(scheduler_file.read_text())["address"])
        time.sleep(0.1)
    pytest.fail(f"the TLS scheduler did not start: {log.read_text()}")


def _dask_env(credentials: Credentials) -> dict[str, str]:
    return {
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(credentials.ca_file),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(credentials.cert),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(credentials.key),
    }


@pytest.mark.slow
def test_builds_on_a_tls_scheduler_and_a_foreign_certificate_is_refused(
    toy: Toy, tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    ours, foreign = Authority.create(certs, "farm-ca"), Authority.create(certs, "other-ca")
    scheduler, worker = ours.issue(certs, "scheduler"), ours.issue(certs, "worker")
    client, stranger = ours.issue(certs, "summit"), foreign.issue(certs, "stranger")
    scheduler_file, scheduler_log = tmp_path / "scheduler.json", tmp_path / "scheduler.log"
    with _started(
        [DASK, "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(scheduler_file), *scheduler.options()],
        scheduler_log,
    ) as process:  # fmt: skip
        address = _address(scheduler_file, process, scheduler_log)
        assert address.startswith("tls://127.0.0.1:")
        with _started(
            [DASK, "worker", address, "--host", "127.0.0.1", "--nworkers", "1",
             "--nthreads", "1", "--resources", "builder=1", "--no-dashboard",
             "--local-directory", str(tmp_path / "worker"), *worker.options()],
            tmp_path / "worker.log",
        ):  # fmt: skip
            done = toy.run("--scheduler", address, *client.options())
            assert done.returncode == 0, done.stderr
            assert "summary: 5 published" in done.stdout
            assert sorted(toy.builds()) == ["base", "left", "right", "solo", "top"]

            # Dask's own configuration, here its environment variables, works the same.
            write_recipe(toy.recipes, "solo", (), (), release=2)
            done = toy.run("--scheduler", address, env=_dask_env(client))
            assert done.returncode == 0, done.stderr
            assert "finished: solo (published)" in done.stdout
            assert sorted(toy.builds()) == ["base", "left", "right", "solo", "solo", "top"]

            # We trust the scheduler, but our certificate is another CA's: it refuses us.
            other = Toy(toy.recipes, tmp_path / "other")
            refused = Credentials(ours.ca_file, stranger.cert, stranger.key)
            done = other.run("--scheduler", address, *refused.options())
            assert done.returncode == 1
            assert done.stderr.startswith(f"Error: cannot reach the Dask scheduler {address}: ")
            assert done.stderr.count("\n") == 1, done.stderr
            assert "started" not in done.stdout

"""Running builds on Dask distributed: the only module that imports dask or distributed.

A build is `run_build(spec)` on a worker holding the `builder` resource (one per worker, so one
build per machine). It runs the builder under `summit.supervise` in its own process group,
which dies with the worker (parent-death signal, then the whole group), so a worker killed
mid-build leaves no build behind, and Dask reruns the task on another worker. Build failures
are *returned*, not raised: Dask retries only infrastructure failures.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moss_core.fs import remove_tree
from summit.errors import ClusterError, SummitError
from summit.tls import TlsFiles, check_readable, is_tls

BUILD_RESOURCE = "builder"


@dataclass(frozen=True, slots=True)
class BuildSpec:
    task: str
    attempt: int
    recipe: str
    staging: str
    log: str
    command: tuple[str, ...]
    timeout: float
    # boulder gets a cache root of this build's own (`--cache-dir DIR` appended), on the
    # worker, removed when the build ends: boulder keeps build roots, trees and artefacts
    # there under `NAME-VERSION-RELEASE`, so two builds of one release would share them.
    private_cache: bool = False


# In a worker process: the supervisor of each build running there, by Dask key.
_BUILDS: dict[str, int] = {}


def build_key(spec: BuildSpec) -> str:
    """The build's Dask key: its staging directory (which names the repository) is in it, so
    two runs sharing a scheduler never take each other's build for their own."""
    where = hashlib.sha256(spec.staging.encode()).hexdigest()[:12]
    return f"build-{spec.task}-a{spec.attempt}-{where}"


def scratch_dir() -> str:
    """The worker's local directory (`dask worker --local-directory`), else the temporary
    directory: where a build's private cache goes. Dask removes a worker's directory when
    the worker ends, and that of a worker killed outright when the next one starts."""
    from distributed import get_worker

    try:
        return str(get_worker().local_directory)
    except ValueError:  # not in a worker
        return tempfile.gettempdir()


def run_build(spec: BuildSpec) -> dict[str, Any]:
    """Run on a worker: the builder command with the log to `spec.log`; packages land in
    `spec.staging`. Returns status, reason, worker and the packages built."""
    if not spec.private_cache:
        return _run_build(spec, spec.command)
    cache = tempfile.mkdtemp(prefix=f"summit-{spec.task}-a{spec.attempt}-", dir=scratch_dir())
    try:
        return _run_build(spec, (*spec.command, "--cache-dir", cache))
    finally:
        remove_tree(Path(cache))


def _run_build(spec: BuildSpec, command: tuple[str, ...]) -> dict[str, Any]:
    staging = Path(spec.staging)
    staging.mkdir(parents=True, exist_ok=True)
    for old in staging.glob("*.stone"):
        old.unlink()
    Path(spec.log).parent.mkdir(parents=True, exist_ok=True)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    result: dict[str, Any] = {"task": spec.task, "attempt": spec.attempt, "worker": worker}
    with open(spec.log, "ab") as log:
        log.write(f"summit: attempt {spec.attempt} on {worker}: {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "summit.supervise", *command],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        _BUILDS[build_key(spec)] = process.pid
        try:
            code = process.wait(timeout=spec.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return result | {"status": "failed", "reason": f"timed out after {spec.timeout:g}s"}
        finally:
            del _BUILDS[build_key(spec)]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    stones = sorted(str(p) for p in staging.glob("*.stone"))
    if code != 0:
        return result | {"status": "failed", "reason": f"builder exited with {code}"}
    if not stones:
        return result | {"status": "failed", "reason": "builder produced no package"}
    return result | {"status": "ok", "stones": stones}


def stop_builds(keys: Collection[str]) -> None:
    """Run on every worker when the controller stops: its builds of `keys` are killed (no one
    will read their results), so the worker is idle and shuts down without being killed."""
    for key in keys:
        if (pid := _BUILDS.get(key)) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def dask_setup(worker: object) -> None:
    """Run by each embedded worker as it starts (this module is its Dask preload). Ctrl-C on
    a terminal reaches the whole process group, workers included; stopping them is the
    controller's job, so they ignore SIGINT rather than each dying with a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def client_security(scheduler: str, tls: TlsFiles | None) -> Any:
    """The `distributed.Security` of our client of `scheduler`: the files given, else Dask's
    own configuration (`distributed.comm.tls.*`, from its YAML files or the
    `DASK_DISTRIBUTED__COMM__TLS__*` environment variables). A `tls://` scheduler needs a CA
    file and a client certificate (its key in the certificate's file or a file of its own)."""
    from distributed import Security

    if tls is not None:
        return Security(
            require_encryption=True, tls_ca_file=str(tls.ca_file),
            tls_client_cert=str(tls.cert), tls_client_key=str(tls.key),
        )  # fmt: skip
    security = Security()
    if not is_tls(scheduler):
        return security
    config = security.get_tls_config_for_role("client")
    if not (config["ca_file"] and config["cert"]):
        raise SummitError(
            f"{scheduler}: a TLS scheduler needs a CA file, a client certificate and its key: "
            "--tls-ca-file, --tls-cert and --tls-key (or Dask's distributed.comm.tls.ca-file, "
            ".client.cert and .client.key)"
        )
    configured = {
        "distributed.comm.tls.ca-file": config["ca_file"],
        "distributed.comm.tls.client.cert": config["cert"],
        "distributed.comm.tls.client.key": config["key"],
    }
    for key, value in configured.items():
        if value and "\n" not in value:  # a path, not PEM text
            check_readable(f"Dask's {key}", value)
    return security


class Cluster:
    """A Dask client on an embedded LocalCluster (127.0.0.1) or an existing scheduler.

    The embedded cluster speaks mutual TLS with a key and certificate made for it in memory
    (`Security.temporary`): its scheduler runs whatever a client submits, and on 127.0.0.1
    any local user could otherwise connect to it and run code as summit."""

    def __init__(
        self, workers: int, scheduler: str | None, timeout: float = 10,
        tls: TlsFiles | None = None,
    ) -> None:  # fmt: skip
        import dask
        from distributed import Client, LocalCluster, Security

        dask.config.set({"distributed.scheduler.allowed-failures": 2})
        self._cluster: LocalCluster | None = None
        try:
            if scheduler is None:
                # The dashboard on loopback and a free port (None meant the default :8787 on
                # every interface, which a second cluster then found taken).
                self._cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
                    protocol="tls://", security=Security.temporary(),
                    resources={BUILD_RESOURCE: 1}, preload=[__name__],
                )  # fmt: skip
                self.client = Client(self._cluster)
            else:
                security = client_security(scheduler, tls)
                self.client = Client(scheduler, timeout=timeout, security=security)
        except (OSError, TimeoutError, ValueError) as err:
            if self._cluster is not None:
                self._cluster.close()
            where = scheduler or "embedded LocalCluster"
            raise ClusterError(f"cannot reach the Dask scheduler {where}: {err}") from None
        # The future of each task's build, with the attempt it runs.
        self._futures: dict[str, tuple[Any, int]] = {}

    def close(self) -> None:
        if self._futures:
            keys = [str(f.key) for f, _attempt in self._futures.values()]
            with contextlib.suppress(OSError, TimeoutError):  # a scheduler already gone
                self.client.run(stop_builds, keys, on_error="ignore")
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def capacity(self) -> int:
        workers = self.client.scheduler_info()["workers"].values()
        return sum(int(w.get("resources", {}).get(BUILD_RESOURCE, 0)) for w in workers)

    def submit(self, spec: BuildSpec, priority: int) -> None:
        future = self.client.submit(
            run_build, spec, key=build_key(spec),
            resources={BUILD_RESOURCE: 1}, priority=priority, retries=1, pure=False,
        )  # fmt: skip
        self._futures[spec.task] = (future, spec.attempt)

    def running(self) -> int:
        return len(self._futures)

    def dashboard_link(self) -> str:
        return str(self.client.dashboard_link)

    def next_result(self, timeout: float | None = None) -> dict[str, Any] | None:
        """Wait for one build to end (None when `timeout` passes first); a build whose workers
        kept dying is a failure."""
        from distributed import wait
        from distributed.scheduler import KilledWorker

        try:
            futures = wait(
                [f for f, _attempt in self._futures.values()], timeout,
                return_when="FIRST_COMPLETED",
            )  # fmt: skip
        except TimeoutError:
            return None
        future = next(iter(futures.done))
        task = next(t for t, (f, _attempt) in self._futures.items() if f is future)
        # The attempt it ran, so a lost build of an older attempt is fenced off too.
        lost = {"task": task, "attempt": self._futures.pop(task)[1]}
        try:
            result: dict[str, Any] = future.result()
        except KilledWorker:
            return lost | {"status": "failed", "reason": "builder died (worker killed)"}
        except Exception as err:
            return lost | {"status": "failed", "reason": f"{type(err).__name__}: {err}"}
        return result

    def worker_pids(self) -> dict[str, int]:
        return dict(self.client.run(os.getpid))

    def processing(self) -> dict[str, Sequence[str]]:
        return dict(self.client.processing())


@contextlib.contextmanager
def cluster(workers: int, scheduler: str | None) -> Iterator[Cluster]:
    started = Cluster(workers, scheduler)
    try:
        yield started
    finally:
        started.close()

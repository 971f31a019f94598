"""A container started by an ordinary user (nobody), through a user namespace.

The test process is root, so it switches to nobody with setpriv and runs Debian's Python with a
copy of moss_core that nobody can read: the project's virtualenv is private to root. That also
proves `moss_core.container` needs nothing beyond the standard library and the seccomp binding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyseccomp
import pytest

import moss_core
from moss_core.container import syscalls

from .conftest import make_host_root
from .test_container_limits import FORK_BOMB, HOG

NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"
SETPRIV_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv is not installed"),
    pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"no {SYSTEM_PYTHON}"),
]

CHECK = """\
import json, sys, tempfile
from pathlib import Path
from moss_core.container import (
    Bind,
    ContainerSpec,
    Limits,
    Overlay,
    namespaces_available,
    run_container,
)

WRITE_PROBE = '''
import sys
try:
    open(sys.argv[1], "w").write("from nobody")
except OSError as e:
    sys.exit(e.errno)
'''

reason = namespaces_available()
if reason is not None:
    print(json.dumps({"unavailable": reason}))
    sys.exit(0)
base = Path(sys.argv[1])
binds = (
    Bind(Path("/usr"), "/usr"),
    Bind(base / "shared", "/shared", read_only=False),
    Bind(base / "locked", "/locked"),
)

def run(*argv, uid=0, limits=Limits(), mounts=binds):
    spec = ContainerSpec(
        root=base / "root", binds=mounts, env={"PATH": "/usr/bin"}, hostname="rootless", uid=uid,
        limits=limits,
    )
    with tempfile.TemporaryFile() as out:
        status = run_container(spec, argv, stdout=out)
        out.seek(0)
        return [status, out.read().decode()]

print(json.dumps({
    "ids": run("sh", "-c", "echo $$ $(id -u) $(id -g) $(hostname)"),
    "mapped": run("id", "-u", uid=1000),
    "usr": run("python3", "-c", WRITE_PROBE, "/usr/probe")[0],
    "locked": run("python3", "-c", WRITE_PROBE, "/locked/probe")[0],
    "shared": run("python3", "-c", WRITE_PROBE, "/shared/probe")[0],
    # No cgroup for nobody: resource limits bound the container.
    "fork_bomb": run("python3", "-c", sys.argv[2], limits=Limits(processes=16)),
    "hog": run("python3", "-c", sys.argv[3], limits=Limits(memory=64 << 20))[0],
    "overlay": run(
        "sh", "-c", "cat /usr/share/layered; test -x /usr/bin/sh",
        mounts=(Overlay((base / "layer", Path("/usr")), "/usr"),),
    ),
}))
"""


@pytest.fixture
def base() -> Iterator[Path]:
    # Not pytest's tmp_path: its parents are private to root.
    base = Path(tempfile.mkdtemp(prefix="moss-rootless-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base)


def test_rootless_container(namespaces: None, base: Path) -> None:
    package = Path(moss_core.__file__).parent
    shutil.copytree(package, base / "src" / "moss_core", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(pyseccomp.__file__, base / "src")
    (base / "check.py").write_text(CHECK)
    for owned in (make_host_root(base / "root"), base / "shared"):
        owned.mkdir(exist_ok=True)
        os.chown(owned, NOBODY, NOBODY)
    (base / "layer" / "share").mkdir(parents=True)
    (base / "layer" / "share" / "layered").write_text("layered\n")
    (base / "layer" / "share" / "layered").chmod(0o644)
    for directory, _, _ in os.walk(base):
        os.chmod(directory, 0o755)
    # A source mount with nosuid/nodev/noexec: in a user namespace those flags are locked, so
    # making the bind read-only must keep them.
    locked = base / "locked"
    locked.mkdir()
    flags = syscalls.MS_NOSUID | syscalls.MS_NODEV | syscalls.MS_NOEXEC
    syscalls.mount("tmpfs", str(locked), "tmpfs", flags, "mode=0777")
    try:
        completed = subprocess.run(
            [*SETPRIV_NOBODY, SYSTEM_PYTHON, str(base / "check.py"), str(base), FORK_BOMB, HOG],
            env={"PYTHONPATH": str(base / "src"), "PATH": "/usr/bin:/bin"},
            cwd=base,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        syscalls.umount2(str(locked))
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    if "unavailable" in results:
        pytest.skip(f"containers are not available to nobody here: {results['unavailable']}")
    assert results["ids"] == [0, "1 0 0 rootless\n"]
    assert results["mapped"] == [0, "1000\n"]
    assert results["usr"] == results["locked"] == 30  # EROFS
    assert results["shared"] == 0
    # The command and 15 children, then EAGAIN; an allocation past 64 MiB refused.
    assert results["fork_bomb"] == [3, "15 11\n"]
    assert results["hog"] == 1
    # overlayfs in a user namespace (Linux >= 5.11): what boulder lays over the host's /usr.
    assert results["overlay"] == [0, "layered\n"]
    probe = base / "shared" / "probe"
    assert probe.read_text() == "from nobody"
    assert (probe.stat().st_uid, probe.stat().st_gid) == (NOBODY, NOBODY)

"""Container roots for the tests: the host's own `/usr`, read-only, provides the programs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from moss_core.container import Bind, ContainerSpec, namespaces_available, run_container

PATH = "/usr/bin:/usr/sbin"
HOST_ROOT_LINKS = ("bin", "sbin", "lib", "lib64", "lib32")


@pytest.fixture(scope="session")
def namespaces() -> None:
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"containers are not available here: {reason}")


def make_host_root(root: Path) -> Path:
    """An empty root with the host's root links, so that binding host `/usr` makes it work."""
    root.mkdir(parents=True, exist_ok=True)
    for name in HOST_ROOT_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            (root / name).symlink_to(os.readlink(host))
    return root


@pytest.fixture
def make_spec(namespaces: None, tmp_path: Path) -> Callable[..., ContainerSpec]:
    """Specs rooted in a scratch root with the host `/usr` bound read-only at `/usr`."""
    root = make_host_root(tmp_path / "root")

    def make(*binds: Bind, **fields: Any) -> ContainerSpec:
        fields.setdefault("env", {"PATH": PATH})
        return ContainerSpec(root=root, binds=(Bind(Path("/usr"), "/usr"), *binds), **fields)

    return make


@pytest.fixture
def run_output(tmp_path: Path) -> Callable[..., tuple[int, str, str]]:
    """Run a command in a container and capture (status, stdout, stderr)."""

    def run(spec: ContainerSpec, *argv: str) -> tuple[int, str, str]:
        out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            status = run_container(spec, argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        return status, out_path.read_text(), err_path.read_text()

    return run


def copy_program(usr: Path, program: str, as_name: str, links: Mapping[str, str]) -> None:
    """Copy host `program` into `usr/bin/<as_name>` with the shared libraries it loads.

    Each library lands where its path (as `ldd` prints it) leads in a root whose top-level
    links are `links` (e.g. `lib64 -> usr/lib`), so the copied program finds them there.
    """
    target = usr / "bin" / as_name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(program, target)
    ldd = subprocess.run(["ldd", program], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        words = line.split()
        path = words[2] if "=>" in words and len(words) > 2 else words[0]
        if not path.startswith("/"):
            continue
        top, _, rest = path.lstrip("/").partition("/")
        inside = links.get(top, top) + "/" + rest
        assert inside.startswith("usr/"), inside
        destination = usr / inside.removeprefix("usr/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(path), destination)


def processes(argv: list[str]) -> list[int]:
    """The processes of this machine running `argv`, in any PID namespace."""
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if Path(f"/proc/{entry}/cmdline").read_bytes() == wanted:
                found.append(int(entry))
        except OSError:
            continue
    return found

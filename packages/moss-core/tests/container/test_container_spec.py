"""The container data model and the in-root path resolution (no namespaces needed)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from moss_core.container import Bind, ContainerError, ContainerSpec, Dev, Overlay
from moss_core.container.setup import resolve_in_root


def test_spec_round_trips_through_json() -> None:
    spec = ContainerSpec(
        root=Path("/srv/root"),
        binds=(
            Overlay((Path("/srv/layer/usr"), Path("/usr")), "/usr"),
            Bind(Path("/var/x"), "/x", read_only=False),
        ),
        proc=False,
        dev=Dev.HOST,
        tmpfs=("/tmp", "/run"),
        network=True,
        hostname="builder",
        workdir="/mason/build",
        env={"PATH": "/usr/bin", "HOME": "/mason/build"},
        uid=1000,
        gid=100,
    )
    assert ContainerSpec.from_json(spec.to_json()) == spec
    assert hash(ContainerSpec.from_json(spec.to_json())) == hash(spec)


def test_spec_is_immutable_and_copies_its_inputs() -> None:
    env = {"A": "1"}
    binds = [Bind(Path("/usr"), "/usr")]
    spec = ContainerSpec(root=Path("/r"), binds=binds, env=env)  # type: ignore[arg-type]
    env["B"] = "2"
    binds.clear()
    assert dict(spec.env) == {"A": "1"} and len(spec.binds) == 1
    with pytest.raises(TypeError):
        spec.env["C"] = "3"  # type: ignore[index]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: Bind(Path("usr"), "/usr"), "bind source usr is not absolute"),
        (lambda: Bind(Path("/usr"), "usr"), "bind target 'usr' is not an absolute path"),
        (lambda: Bind(Path("/srv"), "/"), "a bind cannot replace `/`"),
        (lambda: Overlay((), "/usr"), "overlay at /usr has no layer"),
        (lambda: Overlay((Path("l"),), "/usr"), "overlay layer l is not absolute"),
        (lambda: Overlay((Path("/a:b"),), "/usr"), "holds a `:`"),
        (lambda: Overlay((Path("/a,lowerdir=/etc"),), "/usr"), "holds a `:`"),
        (lambda: Overlay((Path("/a"),), "/"), "an overlay cannot replace `/`"),
        (lambda: ContainerSpec(root=Path("r")), "root r is not absolute"),
        (lambda: ContainerSpec(root=Path("/r"), tmpfs=("tmp",)), "tmpfs target 'tmp'"),
        (lambda: ContainerSpec(root=Path("/r"), workdir="build"), "workdir 'build'"),
        (lambda: ContainerSpec(root=Path("/r"), hostname="h" * 65), "is not 1-64 bytes"),
        (lambda: ContainerSpec(root=Path("/r"), env={"A=B": "1"}), "invalid environment"),
        (lambda: ContainerSpec(root=Path("/r"), uid=-1), "invalid ids -1:0"),
    ],
)
def test_invalid_specs_are_refused(make: Callable[[], object], problem: str) -> None:
    with pytest.raises(ContainerError, match="at spec: ") as info:
        make()
    assert problem in str(info.value)


def test_resolve_in_root_keeps_symlinks_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "usr/lib").mkdir(parents=True)
    (root / "lib64").symlink_to("usr/lib")
    (root / "abs").symlink_to("/usr/lib")
    (root / "up").symlink_to("../../../..")
    (root / "usr/lib/loop").symlink_to("loop")

    def resolve(path: str) -> str:
        return resolve_in_root(str(root), path)

    assert resolve("/lib64/x") == f"{root}/usr/lib/x"
    assert resolve("/abs/x") == f"{root}/usr/lib/x"
    assert resolve("/up/etc/passwd") == f"{root}/etc/passwd"
    assert resolve("/../../x/./y") == f"{root}/x/y"
    assert resolve("/new/dir/../file") == f"{root}/new/file"
    assert resolve("/") == str(root)
    with pytest.raises(OSError) as info:
        resolve("/usr/lib/loop/x")
    assert info.value.errno == errno.ELOOP

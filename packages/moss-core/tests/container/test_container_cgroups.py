"""Where the container's cgroup goes, and giving it up, on directory trees shaped like cgroup
filesystems (the real ones are exercised by test_container_limits where this machine has them)."""

from __future__ import annotations

import os
from pathlib import Path

from moss_core.container import Limits
from moss_core.container.cgroups import (
    Cgroup,
    _Group,
    _Hierarchy,
    _make_group,
    _membership,
    _parents,
)


def _tree(base: Path, offers: dict[str, str]) -> None:
    for relative, controllers in offers.items():
        directory = base / relative
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cgroup.subtree_control").write_text(controllers + "\n")


def test_v2_uses_the_nearest_ancestor_offering_the_controllers(tmp_path: Path) -> None:
    _tree(tmp_path, {".": "cpu memory pids", "user.slice": "memory pids", "user.slice/u": ""})
    v2 = _Hierarchy(tmp_path, 2, frozenset({"memory", "pids"}))
    both = frozenset({"memory", "processes"})
    # Never the caller's own cgroup: it holds processes, so it may not offer controllers.
    parents = list(_parents(v2, "/user.slice/u/session.scope", both))
    assert parents == [tmp_path / "user.slice", tmp_path]
    (tmp_path / "user.slice/cgroup.subtree_control").write_text("memory\n")
    assert list(_parents(v2, "/user.slice/u/session.scope", both)) == [tmp_path]
    assert list(_parents(v2, "/", both)) == [tmp_path]


def test_v1_goes_beside_the_caller(tmp_path: Path) -> None:
    v1 = _Hierarchy(tmp_path, 1, frozenset({"rw", "memory"}))
    assert list(_parents(v1, "/a/b", frozenset({"memory"}))) == [tmp_path / "a/b"]


def test_membership_by_controllers() -> None:
    memberships = {
        frozenset(): "/v2",
        frozenset({"memory"}): "/m",
        frozenset({"cpu", "cpuacct"}): "/c",
    }
    assert _membership(memberships, _Hierarchy(Path("/"), 2, frozenset())) == "/v2"
    assert _membership(memberships, _Hierarchy(Path("/"), 1, frozenset({"rw", "memory"}))) == "/m"
    v1_cpu = _Hierarchy(Path("/"), 1, frozenset({"rw", "cpu", "cpuacct"}))
    assert _membership(memberships, v1_cpu) == "/c"
    assert _membership(memberships, _Hierarchy(Path("/"), 1, frozenset({"pids"}))) is None


def test_a_directory_refusing_the_limits_is_not_used(tmp_path: Path) -> None:
    # A plain directory has no memory.max to write: the group is made, then removed again.
    v2 = _Hierarchy(tmp_path, 2, frozenset({"memory"}))
    _tree(tmp_path, {".": "memory"})
    assert _make_group(v2, "/", frozenset({"memory"}), Limits(memory=1 << 20)) is None
    assert sorted(os.listdir(tmp_path)) == ["cgroup.subtree_control"]


def test_a_cgroup_the_kernel_refuses_to_move_into_is_given_up(tmp_path: Path) -> None:
    (tmp_path / "moss-container-1").mkdir()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    cgroup = Cgroup([_Group(fd, "moss-container-1", 2, frozenset({"memory"}))])
    assert cgroup.enforced == {"memory"}
    # No cgroup.procs to write: as when the kernel refuses the move.
    assert cgroup.add(os.getpid()) is False
    assert cgroup.enforced == frozenset() and cgroup.hit() == frozenset()
    assert not (tmp_path / "moss-container-1").exists()

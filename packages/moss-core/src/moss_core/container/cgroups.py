"""A cgroup of the container's own, holding its memory and process limits.

The container's supervisor (the helper's process for that one command) makes it before the
container exists: a child of a cgroup v2 directory whose `cgroup.subtree_control` already
offers the controller (an ancestor of the caller's cgroup, such as a systemd delegation, or the
hierarchy's root, writable by root), otherwise a child of the caller's cgroup in the cgroup v1
hierarchy of that controller. It writes the limits, moves the container's PID 1 into it before
that runs anything of the command, reads afterwards whether a limit was hit (the kernel's
`oom_kill` and `max` event counts), and removes it. When no such directory is writable (an
ordinary user without delegation, a container that refuses cgroup writes), `make` enforces what
it can and PID 1's resource limits stand in for the rest
(`moss_core.container.limits.resource_limits`).

Everything is done through descriptors of the parent directories, opened first: PID 1's
`pivot_root` also moves the supervisor's root, and the host's `/sys/fs/cgroup` with it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from moss_core.container.limits import Limits

_CONTROLLERS = {"memory": "memory", "processes": "pids"}
"""The limit each controller enforces."""

_PREFIX = "moss-container-"


@dataclass(frozen=True)
class _Hierarchy:
    mount: Path
    version: int
    controllers: frozenset[str]


@dataclass
class _Group:
    """One directory made for the container, in one hierarchy."""

    parent_fd: int
    name: str
    version: int
    enforces: frozenset[str]
    """The limits ("memory", "processes") this directory enforces."""

    def path(self, file: str) -> str:
        return f"{self.name}/{file}"

    def write(self, file: str, value: str) -> None:
        fd = os.open(self.path(file), os.O_WRONLY, dir_fd=self.parent_fd)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)

    def counts(self, file: str) -> dict[str, int]:
        """A flat-keyed cgroup file (`key value` lines); empty if it cannot be read."""
        try:
            fd = os.open(self.path(file), os.O_RDONLY, dir_fd=self.parent_fd)
        except OSError:
            return {}
        try:
            text = os.read(fd, 4096).decode()
        finally:
            os.close(fd)
        return {
            key: int(value)
            for key, _, value in (line.partition(" ") for line in text.splitlines())
            if value.strip().isdigit()
        }

    def has(self, file: str) -> bool:
        try:
            os.stat(self.path(file), dir_fd=self.parent_fd)
        except OSError:
            return False
        return True


@dataclass
class Cgroup:
    """The container's cgroup directories (one, or one per v1 hierarchy)."""

    groups: list[_Group] = field(default_factory=list)

    @property
    def enforced(self) -> frozenset[str]:
        """The limits the cgroup enforces; resource limits stand in for the others."""
        return frozenset().union(*(group.enforces for group in self.groups))

    def add(self, pid: int) -> bool:
        """Move process `pid` in; False, with the cgroup given up, if the kernel refuses (a
        v2 directory that turned out to hold processes, a delegation that ends above it)."""
        try:
            for group in self.groups:
                group.write("cgroup.procs", str(pid))
        except OSError:
            self.remove()
            return False
        return True

    def hit(self) -> frozenset[str]:
        """The limits the kernel enforced against the container: an out-of-memory kill, a
        fork refused at the process limit."""
        found: set[str] = set()
        for group in self.groups:
            if "memory" in group.enforces:
                file = "memory.events" if group.version == 2 else "memory.oom_control"
                if group.counts(file).get("oom_kill", 0) > 0:
                    found.add("memory")
            if "processes" in group.enforces and group.counts("pids.events").get("max", 0) > 0:
                found.add("processes")
        return frozenset(found)

    def remove(self) -> None:
        """Remove the directories; call once no process of the container is left."""
        for group in self.groups:
            with contextlib.suppress(OSError):
                os.rmdir(group.name, dir_fd=group.parent_fd)
            os.close(group.parent_fd)
        self.groups.clear()


def make(limits: Limits) -> Cgroup:
    """A cgroup enforcing as many of `limits`'s memory and process bounds as this process
    can have enforced; an empty one when it can have none."""
    wanted = {name for name in _CONTROLLERS if getattr(limits, name) is not None}
    cgroup = Cgroup()
    if not wanted:
        return cgroup
    try:
        hierarchies = _hierarchies()
        memberships = _memberships()
    except OSError:
        return cgroup
    for version in (2, 1):
        for hierarchy in hierarchies:
            if hierarchy.version != version:
                continue
            offered = {n for n in wanted if _CONTROLLERS[n] in hierarchy.controllers}
            if not offered:
                continue
            own = _membership(memberships, hierarchy)
            if own is None:
                continue
            group = _make_group(hierarchy, own, frozenset(offered), limits)
            if group is not None:
                cgroup.groups.append(group)
                wanted -= group.enforces
    return cgroup


def _make_group(
    hierarchy: _Hierarchy, own: str, enforces: frozenset[str], limits: Limits
) -> _Group | None:
    for parent in _parents(hierarchy, own, enforces):
        try:
            parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        _remove_stale(parent_fd)
        group = _Group(parent_fd, f"{_PREFIX}{os.getpid()}", hierarchy.version, enforces)
        try:
            os.mkdir(group.name, 0o755, dir_fd=parent_fd)
        except OSError:
            os.close(parent_fd)
            continue
        try:
            _write_limits(group, limits)
        except OSError:
            with contextlib.suppress(OSError):
                os.rmdir(group.name, dir_fd=parent_fd)
            os.close(parent_fd)
            continue
        return group
    return None


def _parents(hierarchy: _Hierarchy, own: str, enforces: frozenset[str]) -> Iterator[Path]:
    """Where the container's cgroup may go. In v1, beside the caller. In v2, a directory that
    holds no process (the kernel refuses controllers to one that does, the root excepted) and
    offers the controllers to its children: the nearest such ancestor of the caller's cgroup."""
    relative = Path(own.lstrip("/"))
    if hierarchy.version == 1:
        yield hierarchy.mount / relative
        return
    needed = {_CONTROLLERS[name] for name in enforces}
    # The root holds processes and yet offers controllers.
    for ancestor in relative.parents if relative.parts else [relative]:
        directory = hierarchy.mount / ancestor
        try:
            offered = set((directory / "cgroup.subtree_control").read_text().split())
        except OSError:
            continue
        if needed <= offered:
            yield directory


def _write_limits(group: _Group, limits: Limits) -> None:
    if "memory" in group.enforces and limits.memory is not None:
        if group.version == 2:
            group.write("memory.max", str(limits.memory))
            # Memory and swap together: a hard bound, not one that swaps the machine to death.
            if group.has("memory.swap.max"):
                group.write("memory.swap.max", "0")
        else:
            group.write("memory.limit_in_bytes", str(limits.memory))
            if group.has("memory.memsw.limit_in_bytes"):
                group.write("memory.memsw.limit_in_bytes", str(limits.memory))
    if "processes" in group.enforces and limits.processes is not None:
        group.write("pids.max", str(limits.processes))


def _remove_stale(parent_fd: int) -> None:
    """Directories left by supervisors that were killed (an empty cgroup can be removed)."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent_fd):
            owner = name.removeprefix(_PREFIX)
            if name.startswith(_PREFIX) and owner.isdigit() and not Path(f"/proc/{owner}").exists():
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=parent_fd)


def _hierarchies() -> list[_Hierarchy]:
    """The cgroup filesystems mounted here, from `/proc/self/mountinfo`."""
    found: list[_Hierarchy] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            separator = fields.index("-")
            kind, options = fields[separator + 1], fields[separator + 3].split(",")
            mount = Path(fields[4].replace("\\040", " "))
            if kind == "cgroup2":
                try:
                    controllers = (mount / "cgroup.controllers").read_text().split()
                except OSError:
                    continue
                found.append(_Hierarchy(mount, 2, frozenset(controllers)))
            elif kind == "cgroup":
                found.append(_Hierarchy(mount, 1, frozenset(options)))
    return found


def _membership(memberships: dict[frozenset[str], str], hierarchy: _Hierarchy) -> str | None:
    """This process's cgroup in `hierarchy`: v1 hierarchies are told apart by their
    controllers (which its mount options name), the v2 one has none."""
    if hierarchy.version == 2:
        return memberships.get(frozenset())
    for controllers, path in memberships.items():
        if controllers and controllers <= hierarchy.controllers:
            return path
    return None


def _memberships() -> dict[frozenset[str], str]:
    """This process's cgroup in each hierarchy, keyed by its controllers (v2: none)."""
    found: dict[frozenset[str], str] = {}
    with open("/proc/self/cgroup", encoding="utf-8") as memberships:
        for line in memberships:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            found[frozenset(controllers.split(",")) - {""}] = path
    return found

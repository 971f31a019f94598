"""What `run_container` tells its helper process, and what the helper reports back.

The request travels as the helper's only argument. Reports are JSON lines written to a pipe
that closes when the helper exits: setup errors, warnings, and finally the command's status.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from moss_core.container.errors import ContainerError
from moss_core.container.spec import ContainerSpec


@dataclass(frozen=True)
class Request:
    """Run `argv` in `spec`; `probe` stops just before executing it. After `timeout` seconds
    the container is killed."""

    spec: ContainerSpec
    argv: tuple[str, ...]
    status_fd: int
    parent: int
    probe: bool = False
    timeout: float | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "spec": self.spec.to_json(),
                "argv": list(self.argv),
                "status_fd": self.status_fd,
                "parent": self.parent,
                "probe": self.probe,
                "timeout": self.timeout,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Request:
        data = json.loads(text)
        return cls(
            spec=ContainerSpec.from_json(data["spec"]),
            argv=tuple(data["argv"]),
            status_fd=int(data["status_fd"]),
            parent=int(data["parent"]),
            probe=bool(data["probe"]),
            timeout=None if data["timeout"] is None else float(data["timeout"]),
        )


def send_error(fd: int, error: ContainerError) -> None:
    _send(fd, {"error": [error.step, error.errno, error.detail]})


def send_warning(fd: int, warning: str) -> None:
    _send(fd, {"warning": warning})


def send_status(fd: int, status: int, *, timed_out: bool, hit: frozenset[str]) -> None:
    _send(fd, {"status": status, "timed_out": timed_out, "hit": sorted(hit)})


def _send(fd: int, message: dict[str, object]) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")


@dataclass
class Reports:
    """Everything the helper reported, in order."""

    errors: list[ContainerError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: int | None = None
    timed_out: bool = False
    hit: frozenset[str] = frozenset()
    """The limits the container's cgroup counted as reached."""


def parse_reports(data: bytes) -> Reports:
    reports = Reports()
    for line in data.splitlines():
        message = json.loads(line)
        if "error" in message:
            step, errno, detail = message["error"]
            reports.errors.append(ContainerError(step, errno, detail))
        elif "warning" in message:
            reports.warnings.append(message["warning"])
        else:
            reports.status = int(message["status"])
            reports.timed_out = bool(message["timed_out"])
            reports.hit = frozenset(message["hit"])
    return reports

"""What a `ContainerSession` tells its helper process, and what the helper reports back.

The request travels as the helper's only argument. The commands to run follow, one JSON line
each, on a pipe the helper reads (`control_fd`) until it is closed. For each command, the helper
writes JSON lines to another pipe (`status_fd`): setup errors, warnings, the command's status,
and last an end marker (`done`), written once nothing of that command's container runs any more.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from moss_core.container.errors import ContainerError
from moss_core.container.spec import ContainerSpec


@dataclass(frozen=True)
class Request:
    """Run each command read from `control_fd` in a fresh container built as `spec` says;
    `probe` stops each just before executing it. After `timeout` seconds a command's container
    is killed."""

    spec: ContainerSpec
    status_fd: int
    control_fd: int
    parent: int
    probe: bool = False
    timeout: float | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "spec": self.spec.to_json(),
                "status_fd": self.status_fd,
                "control_fd": self.control_fd,
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
            status_fd=int(data["status_fd"]),
            control_fd=int(data["control_fd"]),
            parent=int(data["parent"]),
            probe=bool(data["probe"]),
            timeout=None if data["timeout"] is None else float(data["timeout"]),
        )


def encode_command(argv: tuple[str, ...]) -> bytes:
    """A command as the helper reads it: one line."""
    return json.dumps(list(argv)).encode() + b"\n"


def decode_command(line: bytes) -> tuple[str, ...]:
    return tuple(str(arg) for arg in json.loads(line))


def send_error(fd: int, error: ContainerError) -> None:
    _send(fd, {"error": [error.step, error.errno, error.detail]})


def send_warning(fd: int, warning: str) -> None:
    _send(fd, {"warning": warning})


def send_status(fd: int, status: int, *, timed_out: bool, hit: frozenset[str]) -> None:
    _send(fd, {"status": status, "timed_out": timed_out, "hit": sorted(hit)})


def send_done(fd: int, supervisor_status: int) -> None:
    """The end of a command's reports; how the process that supervised its container ended."""
    _send(fd, {"done": supervisor_status})


def _send(fd: int, message: dict[str, object]) -> None:
    os.write(fd, json.dumps(message).encode() + b"\n")


@dataclass
class Reports:
    """Everything the helper reported about one command, in order."""

    errors: list[ContainerError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    status: int | None = None
    timed_out: bool = False
    hit: frozenset[str] = frozenset()
    """The limits the container's cgroup counted as reached."""
    done: int | None = None
    """How the command's supervisor ended, once the helper said so (`send_done`)."""


def parse_report(reports: Reports, line: bytes) -> None:
    """Add one line of the helper's reports to `reports`."""
    message = json.loads(line)
    if "error" in message:
        step, errno, detail = message["error"]
        reports.errors.append(ContainerError(step, errno, detail))
    elif "warning" in message:
        reports.warnings.append(message["warning"])
    elif "done" in message:
        reports.done = int(message["done"])
    else:
        reports.status = int(message["status"])
        reports.timed_out = bool(message["timed_out"])
        reports.hit = frozenset(message["hit"])

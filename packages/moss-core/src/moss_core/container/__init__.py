"""Linux containers from namespaces, for trigger isolation (moss) and builds (boulder).

`run_container(spec, argv)` runs a command in the container a `ContainerSpec` describes, as
root or, through a user namespace, as an ordinary user; a `ContainerSession` runs several, one
after another, each in a fresh container of its own, through one helper process.
`namespaces_available()` says whether this machine allows it. The trigger runner built on it
lives in `moss_core.container.isolated` (imported separately: this package must not pull in
`moss_core.triggers` and its dependencies).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moss_core.container.errors import ContainerError, ContainerLimitExceeded, ContainerTimeout
from moss_core.container.limits import Limits
from moss_core.container.spec import MINIMAL_DEVICES, Bind, ContainerSpec, Dev, Mount, Overlay

if TYPE_CHECKING:
    from moss_core.container.run import (
        ContainerSession,
        Stream,
        namespaces_available,
        run_container,
    )

_RUN = ("ContainerSession", "Stream", "namespaces_available", "run_container")


def __getattr__(name: str) -> object:
    """`run`'s names, loaded on first use: the helper process each container starts (`_init`)
    imports this package, and must not pay for what only the side starting it needs
    (subprocess, logging, tempfile). Not `stone._lazy`: this package needs only the standard
    library and pyseccomp."""
    if name not in _RUN:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from moss_core.container import run

    value = getattr(run, name)
    globals()[name] = value
    return value


__all__ = [
    "MINIMAL_DEVICES",
    "Bind",
    "ContainerError",
    "ContainerLimitExceeded",
    "ContainerSession",
    "ContainerSpec",
    "ContainerTimeout",
    "Dev",
    "Limits",
    "Mount",
    "Overlay",
    "Stream",
    "namespaces_available",
    "run_container",
]

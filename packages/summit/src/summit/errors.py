"""summit's errors: each is printed as one line naming what went wrong, never a traceback."""

from __future__ import annotations


class SummitError(Exception):
    """A user-facing failure."""


class StateError(SummitError):
    """The state database cannot be opened or used."""


class PublishError(SummitError):
    """A package cannot be published: it would replace different bytes, or a write failed."""


class ClusterError(SummitError):
    """The Dask scheduler cannot be reached or started."""

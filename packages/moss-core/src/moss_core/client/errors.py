"""The client's errors: a request that cannot be carried out, and one the user declined."""

from __future__ import annotations

from moss_core.errors import MossError


class ClientError(MossError):
    """A request that cannot be carried out as asked."""


class Cancelled(ClientError):
    def __init__(self) -> None:
        super().__init__("cancelled")

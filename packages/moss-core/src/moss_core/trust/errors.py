"""Errors of `moss_core.trust`."""

from __future__ import annotations

from moss_core.errors import MossError


class TrustError(MossError):
    """A key, a signature, or what it vouches for is not acceptable."""

"""The root of moss-core's error hierarchy: every module's errors derive from `MossError`,
so the CLI can turn any of them into one line and a non-zero exit."""

from __future__ import annotations


class MossError(Exception):
    """Base class of every error moss-core raises for a user to read."""

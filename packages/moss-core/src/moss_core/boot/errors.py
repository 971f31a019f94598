"""The errors of boot management: each is one line a user can act on."""

from __future__ import annotations

from moss_core.errors import MossError


class BootError(MossError):
    """Boot entries could not be brought in step with the states."""


class BootInputError(BootError):
    """A state's boot inputs (os-release, kernels, command line) are unusable."""


class BootTargetError(BootError):
    """The ESP or XBOOTLDR is missing, unwritable or cannot be found."""

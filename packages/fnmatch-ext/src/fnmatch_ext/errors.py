"""Errors raised by fnmatch-ext."""

from __future__ import annotations


class FnmatchError(Exception):
    """Base class of every error raised by fnmatch-ext."""


class PatternError(FnmatchError, ValueError):
    """A pattern could not be compiled.

    Subclasses `ValueError` so that validation layers (pydantic, argparse, ...) that
    treat `ValueError` as "bad input" report it as such.
    """

    def __init__(self, pattern: str, position: int, reason: str) -> None:
        super().__init__(f"invalid pattern {pattern!r} at position {position}: {reason}")
        self.pattern = pattern
        self.position = position
        self.reason = reason

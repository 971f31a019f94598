"""Styling only on a terminal, and none at all where NO_COLOR is set."""

from __future__ import annotations

import io

import pytest

from moss.console import styled


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_styled_on_a_terminal_plain_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", _Terminal())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert styled("x", bold=True) == "\x1b[1mx\x1b[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert styled("x", bold=True, fg="yellow") == "x"


def test_styled_is_plain_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", io.StringIO())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert styled("x", bold=True) == "x"

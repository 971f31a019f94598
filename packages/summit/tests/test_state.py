"""The state's view of a rescan while builds run (`summit serve`): a running build is left
alone, and a release that changes under it fences its result off."""

from __future__ import annotations

from pathlib import Path

from summit.queue import Status, Task
from summit.state import State


def test_sync_keeps_builds_in_flight_and_fences_a_changed_release(tmp_path: Path) -> None:
    state = State(tmp_path / "state.db")
    try:
        a, b = Task("a", "1", 1, "a/a"), Task("b", "1", 1, "b/b")
        state.sync([a, b])
        assert state.start("a", None, tmp_path / "a") == 1
        assert state.start("b", None, tmp_path / "b") == 1
        state.sync([a, b], in_flight={"a", "b"})
        assert state.statuses() == {"a": Status.RUNNING, "b": Status.RUNNING}
        assert state.current_attempt("a") == 1

        state.sync([Task("a", "1", 2, "a/a"), b], in_flight={"a", "b"})
        assert state.statuses() == {"a": Status.PENDING, "b": Status.RUNNING}
        assert state.current_attempt("a") == 2  # the running attempt 1 is now stale

        state.sync([Task("a", "1", 2, "a/a"), b])  # a new controller: nothing in flight
        assert state.statuses() == {"a": Status.PENDING, "b": Status.PENDING}
        assert state.start("a", None, tmp_path / "a") == 3
    finally:
        state.close()

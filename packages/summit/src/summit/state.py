"""Durable state in SQLite: tasks, attempts, outputs and failure reasons.

SQLite is the only truth: the Dask scheduler holds in-flight work only, so a controller that
dies loses at most running attempts, which the next run starts again under a new attempt
number (stale results carry the old number and are ignored).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from summit.errors import StateError
from summit.queue import Status, Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS task (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    release INTEGER NOT NULL,
    path TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 0,
    built_commit TEXT,
    worker TEXT,
    added REAL NOT NULL,
    started REAL,
    ended REAL,
    log_path TEXT,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS attempt (
    task TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    worker TEXT,
    started REAL NOT NULL,
    ended REAL,
    outcome TEXT,
    log_path TEXT,
    PRIMARY KEY (task, attempt)
);
CREATE TABLE IF NOT EXISTS output (
    task TEXT NOT NULL,
    release INTEGER NOT NULL,
    file TEXT NOT NULL UNIQUE,
    package TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    providers TEXT NOT NULL,
    published REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Output:
    """One published package: its pool path relative to the repository, and what it provides."""

    file: str
    package: str
    size: int
    sha256: str
    providers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskRow:
    name: str
    version: str
    release: int
    path: str
    status: Status
    attempt: int
    built_commit: str | None
    worker: str | None
    started: float | None
    ended: float | None
    log_path: str | None
    reason: str | None


class State:
    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as err:
            raise StateError(f"{path}: cannot open the state database: {err}") from None

    def close(self) -> None:
        self.db.close()

    def sync(self, tasks: Sequence[Task], in_flight: Collection[str] = ()) -> None:
        """Record the recipe set of this run. A new release starts a fresh task; a task left
        running by a dead controller and a blocked one are pending again (blocking is
        recomputed); published and failed tasks of the same release stay (failed: `retry`).
        A task `in_flight` (its build still runs) keeps running; when its release changed, its
        attempt number moves on, so the old build's result is ignored when it comes."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for task in tasks:
                row = self.db.execute(
                    "SELECT release, status FROM task WHERE name = ?", (task.name,)
                ).fetchone()
                if row is None or row[0] != task.release:
                    published = self._published_release(task.name)
                    status = Status.PUBLISHED if published >= task.release else Status.PENDING
                    self.db.execute(
                        "INSERT OR REPLACE INTO task (name, version, release, path, status, "
                        "attempt, added) VALUES (?, ?, ?, ?, ?, COALESCE((SELECT attempt + "
                        "(status = 'running') FROM task WHERE name = ?), 0), ?)",
                        (task.name, task.version, task.release, task.path, status, task.name, now),
                    )
                elif row[1] == Status.BLOCKED or (
                    row[1] == Status.RUNNING and task.name not in in_flight
                ):
                    self.db.execute(
                        "UPDATE task SET status = ?, reason = NULL WHERE name = ?",
                        (Status.PENDING, task.name),
                    )

    def _published_release(self, name: str) -> int:
        row = self.db.execute("SELECT MAX(release) FROM output WHERE task = ?", (name,)).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def statuses(self) -> dict[str, Status]:
        return {n: Status(s) for n, s in self.db.execute("SELECT name, status FROM task")}

    def start(self, name: str, commit: str | None, log_path: Path) -> int:
        """A new attempt of `name`; its number fences results of earlier ones."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "UPDATE task SET status = ?, attempt = attempt + 1, started = ?, ended = NULL, "
                "built_commit = ?, reason = NULL, worker = NULL WHERE name = ?",
                (Status.RUNNING, now, commit, name),
            )
            attempt = int(
                self.db.execute("SELECT attempt FROM task WHERE name = ?", (name,)).fetchone()[0]
            )
            path = str(log_path.with_name(f"{name}.a{attempt}.log"))
            self.db.execute("UPDATE task SET log_path = ? WHERE name = ?", (path, name))
            self.db.execute(
                "INSERT OR REPLACE INTO attempt (task, attempt, started, log_path) "
                "VALUES (?, ?, ?, ?)",
                (name, attempt, now, path),
            )
        return attempt

    def current_attempt(self, name: str) -> int:
        row = self.db.execute("SELECT attempt FROM task WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def finish(
        self, name: str, attempt: int, worker: str, release: int, outputs: Iterable[Output]
    ) -> None:
        """Outputs are recorded (as published) in the same transaction that completes the task."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for out in outputs:
                self.db.execute(
                    "INSERT OR IGNORE INTO output (task, release, file, package, size, sha256, "
                    "providers, published) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, release, out.file, out.package, out.size, out.sha256,
                     json.dumps(list(out.providers)), now),
                )  # fmt: skip
            self._close_attempt(name, attempt, worker, Status.PUBLISHED, None, now)

    def fail(self, name: str, attempt: int, worker: str | None, reason: str) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self._close_attempt(name, attempt, worker, Status.FAILED, reason, time.time())

    def _close_attempt(
        self, name: str, attempt: int, worker: str | None, status: Status,
        reason: str | None, now: float,
    ) -> None:  # fmt: skip
        self.db.execute(
            "UPDATE task SET status = ?, ended = ?, worker = ?, reason = ? WHERE name = ?",
            (status, now, worker, reason, name),
        )
        self.db.execute(
            "UPDATE attempt SET ended = ?, worker = ?, outcome = ? WHERE task = ? AND attempt = ?",
            (now, worker, status, name, attempt),
        )

    def mark(self, name: str, status: Status, reason: str) -> None:
        """A task closed without running: blocked by a failure, or unable to start."""
        self.db.execute(
            "UPDATE task SET status = ?, reason = ?, ended = ? WHERE name = ?",
            (status, reason, time.time(), name),
        )

    def retry(self, name: str) -> bool:
        """A failed or blocked task is pending again; False when there is no such task."""
        cursor = self.db.execute(
            "UPDATE task SET status = ?, reason = NULL WHERE name = ? AND status IN (?, ?)",
            (Status.PENDING, name, Status.FAILED, Status.BLOCKED),
        )
        return cursor.rowcount == 1

    def learnt(self) -> dict[str, frozenset[str]]:
        """What each task's published packages provide."""
        found: dict[str, set[str]] = {}
        for task, providers in self.db.execute("SELECT task, providers FROM output"):
            found.setdefault(task, set()).update(json.loads(providers))
        return {k: frozenset(v) for k, v in found.items()}

    def outputs(self) -> list[Output]:
        return [
            Output(f, p, s, h, tuple(json.loads(pr)))
            for f, p, s, h, pr in self.db.execute(
                "SELECT file, package, size, sha256, providers FROM output ORDER BY file"
            )
        ]

    def tasks(self) -> list[TaskRow]:
        rows = self.db.execute(
            "SELECT name, version, release, path, status, attempt, built_commit, worker, "
            "started, ended, log_path, reason FROM task ORDER BY path"
        )
        return [TaskRow(r[0], r[1], r[2], r[3], Status(r[4]), *r[5:]) for r in rows]

    def task(self, name: str) -> TaskRow | None:
        return next((t for t in self.tasks() if t.name == name), None)

    def attempts(self, name: str) -> list[tuple[int, str | None, str | None]]:
        return list(
            self.db.execute(
                "SELECT attempt, worker, outcome FROM attempt WHERE task = ? ORDER BY attempt",
                (name,),
            )
        )

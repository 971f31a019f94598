"""The read-only queue page and its JSON (pure): every text from a recipe or a build is
untrusted, so all of it is escaped, and links are built from names, never taken from them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from summit.queue import Status
from summit.state import TaskRow

REFRESH_SECONDS = 5
COLUMNS = (
    "task", "release", "state", "attempt", "started (UTC)", "ended (UTC)",
    "time", "builder", "reason", "log",
)  # fmt: skip


def log_url(name: str) -> str:
    return "/log/" + quote(name, safe="")


def as_json(rows: Sequence[TaskRow]) -> list[dict[str, Any]]:
    return [asdict(r) | {"log_url": log_url(r.name) if r.log_path else None} for r in rows]


def _when(stamp: float | None) -> str:
    if stamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


def _duration(row: TaskRow, now: float) -> str:
    if row.started is None:
        return ""
    end = row.ended if row.ended is not None and row.ended >= row.started else now
    return f"{end - row.started:.1f}s"


def safe_link(url: str | None) -> str | None:
    """Only an http(s) URL becomes a link (the dashboard address comes from the scheduler)."""
    if url is None or urlsplit(url).scheme not in ("http", "https"):
        return None
    return url


def render(rows: Sequence[TaskRow], now: float, dashboard: str | None, dashboard_note: str) -> str:
    """The queue as one HTML page: counts, then a row per task."""
    counts = {s: sum(1 for r in rows if r.status is s) for s in Status}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    link = safe_link(dashboard)
    if link is not None:
        dash = f'<a id="dashboard" href="{escape(link)}">Dask dashboard</a>'
    else:
        dash = f'<span id="dashboard">{escape(dashboard_note)}</span>'
    body = []
    for row in rows:
        log = f'<a href="{escape(log_url(row.name))}">log</a>' if row.log_path else ""
        cells = [
            escape(row.name), escape(f"{row.version}-{row.release}"), escape(row.status),
            str(row.attempt), _when(row.started), _when(row.ended), _duration(row, now),
            escape(row.worker or ""), escape(row.reason or ""), log,
        ]  # fmt: skip
        body.append(
            f'<tr class="{escape(row.status)}" data-task="{escape(row.name)}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    heads = "".join(f"<th>{h}</th>" for h in COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>summit queue</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }}
tr.failed td, tr.blocked td {{ background: #fdd; }}
tr.running td {{ background: #ffd; }}
tr.published td {{ background: #dfd; }}
</style></head>
<body>
<h1>summit queue</h1>
<p id="summary">{escape(summary) or "no tasks"}</p>
<p>{dash} · <a href="/api/tasks">JSON</a> · updated {_when(now)} UTC</p>
<table id="tasks"><thead><tr>{heads}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""

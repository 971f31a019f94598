"""The queue page and its JSON: untrusted names and failure reasons are escaped, links are
made from names and only http(s) dashboard addresses become links."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from summit.page import as_json, render
from summit.queue import Status
from summit.state import TaskRow

HOSTILE = '<script>alert("x")</script>&'


def _row(name: str, status: Status, reason: str | None = None, log: str | None = None) -> TaskRow:
    return TaskRow(
        name, "1.0", 2, f"{name[0]}/{name}", status, 1, None, "host:1", 100.0, 112.5, log, reason
    )


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collect:
    parser = _Collect()
    parser.feed(page)
    return parser


def test_hostile_names_and_reasons_are_text_not_markup() -> None:
    rows = [
        _row(HOSTILE, Status.FAILED, reason=f"builder said {HOSTILE}", log="/x.log"),
        _row("solo", Status.PUBLISHED),
    ]
    page = render(rows, 200.0, None, "no dashboard yet")
    parsed = _parse(page)
    assert "script" not in parsed.tags
    text = "".join(parsed.text)
    assert HOSTILE in text and f"builder said {HOSTILE}" in text
    assert "/log/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26" in parsed.links
    assert "1 published, 1 failed" in text
    assert "12.5s" in text


def test_dashboard_link_only_for_http() -> None:
    shown = _parse(render([], 0.0, "http://127.0.0.1:8787/status", "none"))
    assert "http://127.0.0.1:8787/status" in shown.links
    hidden = _parse(render([], 0.0, "javascript:alert(1)", "dashboard not available"))
    assert not any(link.startswith("javascript") for link in hidden.links)
    assert "dashboard not available" in "".join(hidden.text)


def test_json_has_every_field_and_a_log_link_only_when_there_is_a_log() -> None:
    rows = [_row("a b", Status.RUNNING, log="/l"), _row("c", Status.PENDING)]
    data = json.loads(json.dumps(as_json(rows)))
    assert data[0]["name"] == "a b" and data[0]["log_url"] == "/log/a%20b"
    assert data[0]["status"] == "running" and data[0]["worker"] == "host:1"
    assert data[1]["log_url"] is None

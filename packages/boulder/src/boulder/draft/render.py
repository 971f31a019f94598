"""The text of a drafted `stone.yaml` and `monitoring.yaml`, laid out as AerynOS recipes are
(keys padded to one column, four-space lists, block scalars for scripts). Pure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from boulder.draft.detect import STEPS, Steps, System

_PLAIN = re.compile(r"[A-Za-z0-9_./+~|%()=@-][A-Za-z0-9_./:+~|%()=@,?&#-]*")
_KEY_WIDTH = 12


@dataclass(frozen=True)
class Source:
    """One upstream as the recipe writes it: `url` (or `git|url`) and its sha256 (or commit)."""

    uri: str
    hash: str


@dataclass(frozen=True)
class Draft:
    name: str
    version: str
    homepage: str
    upstreams: tuple[Source, ...]
    licenses: tuple[str, ...]
    system: System | None
    builddeps: tuple[str, ...]
    # What the drafter could not decide, one line each, for the comment at the top.
    undecided: tuple[str, ...]

    @property
    def steps(self) -> Steps:
        # Upstream boulder falls back to autotools too; the comment at the top says so.
        return STEPS[self.system or System.AUTOTOOLS]


def scalar(value: str) -> str:
    """`value` as a YAML scalar: plain when it reads back as the same string, else quoted."""
    if _PLAIN.fullmatch(value) and " #" not in value and not value[0].isdigit():
        return value
    return json.dumps(value)


def _key(name: str) -> str:
    return f"{name:<{_KEY_WIDTH}}:"


def _block(name: str, text: str) -> str:
    body = "".join(f"    {line}\n" for line in text.splitlines())
    return f"{_key(name)} |\n{body}"


def _list(name: str, items: tuple[str, ...]) -> str:
    return f"{_key(name)}\n" + "".join(f"    - {scalar(item)}\n" for item in items)


def render_stone(draft: Draft, year: int) -> str:
    lines = [
        f"# SPDX-FileCopyrightText: {year} AerynOS Developers\n",
        "# SPDX-License-Identifier: MPL-2.0\n",
        "#\n",
        "# Drafted by `boulder recipe new`. Still to do by hand:\n",
        *(f"#   - {item}\n" for item in draft.undecided),
        "\n",
        f"{_key('name')} {scalar(draft.name)}\n",
        f"{_key('version')} {json.dumps(draft.version)}\n",
        f"{_key('release')} 1\n",
        f"{_key('homepage')} {scalar(draft.homepage)}\n",
        f"{_key('upstreams')}\n",
        *(f"    - {scalar(s.uri)} : {s.hash}\n" for s in draft.upstreams),
        f"{_key('summary')} UPDATE SUMMARY\n",
        _block("description", "UPDATE DESCRIPTION"),
    ]
    if draft.licenses:
        lines.append(_list("license", draft.licenses))
    else:
        lines.append(f"{_key('license')} UPDATE LICENSE\n")
    steps = draft.steps
    if steps.networking:
        lines.append(f"{_key('networking')} true\n")
    if draft.builddeps:
        lines.append(_list("builddeps", draft.builddeps))
    for phase, script in (
        ("setup", steps.setup),
        ("build", steps.build),
        ("install", steps.install),
        ("check", steps.check),
    ):
        if script is not None:
            lines.append(_block(phase, script))
    return "".join(lines)


def release_feed(homepage: str) -> str | None:
    """An RSS/Atom feed of releases, where the homepage's shape gives one."""
    if homepage.startswith("https://github.com/"):
        return f"{homepage}/releases.atom"
    if homepage.startswith("https://pypi.org/project/"):
        project = homepage.removeprefix("https://pypi.org/project/").strip("/")
        return f"https://pypi.org/rss/project/{project}/releases.xml"
    return None


def render_monitoring(draft: Draft, year: int) -> str:
    feed = release_feed(draft.homepage)
    return "".join(
        [
            f"# SPDX-FileCopyrightText: {year} AerynOS Developers\n",
            "# SPDX-License-Identifier: MPL-2.0\n",
            "\n",
            "releases:\n",
            "  id: ~ # the project's number at https://release-monitoring.org/ (in its URL)\n",
            f"  rss: {scalar(feed) if feed else '~'}\n",
            "security:\n",
            "  cpe: ~ # not looked up: search https://nvd.nist.gov/products/cpe/search\n",
        ]
    )

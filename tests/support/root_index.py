"""A root-index repository's `moss-root-index.json`, for tests of every package."""

from __future__ import annotations

import json
from pathlib import Path


def write_root_index(base: Path, stream: str, snapshot: str, channel: str = "main") -> Path:
    """`<base>/<channel>/moss-root-index.json` with one stream naming one v0 snapshot, whose
    `<arch>/stone.index` goes in `<base>/<channel>/history/<snapshot>`."""
    document = {
        "formats": {"v0": {}},
        "streams": {stream: {"format": "v0", "history": snapshot}},
        "tags": {},
        "history": {snapshot: {"format": "v0"}},
    }
    path = base / channel / "moss-root-index.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path

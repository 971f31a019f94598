"""Python distributions' metadata provide `python(<name>)` and depend on their requirements.

Requirements whose environment marker cannot be true without an extra are left out; other
markers are evaluated against the Python running boulder when `packaging` is importable, else
kept (a dependency too many beats one missing).
"""

from __future__ import annotations

import re
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath

_SEPARATORS = re.compile(r"[-_.]+")
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    """PEP 503: runs of `-`, `_`, `.` become one `-`, lowercased."""
    return _SEPARATORS.sub("-", name).lower()


def is_metadata(path: str) -> bool:
    here = PurePosixPath(path)
    text = str(here)
    return (".dist-info" in text and here.name == "METADATA") or (
        ".egg-info" in text and here.name == "PKG-INFO"
    )


def _marker_allows(marker: str) -> bool:
    if "extra" in marker:
        return False
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:
        return True
    try:
        return bool(Marker(marker).evaluate())
    except InvalidMarker:
        return True


def python_relations(text: str) -> tuple[list[str], list[str]]:
    """Provides and depends from a METADATA / PKG-INFO text."""
    headers = HeaderParser().parsestr(text)
    name = headers.get("Name")
    if not name:
        return [], []
    depends: list[str] = []
    for requirement in headers.get_all("Requires-Dist") or []:
        spec, _, marker = str(requirement).partition(";")
        found = _NAME.match(spec)
        if found is None or (marker.strip() and not _marker_allows(marker.strip())):
            continue
        depends.append(f"python({normalise(found.group(1))})")
    return [f"python({normalise(str(name))})"], depends


def read_metadata(host: Path) -> str:
    return host.read_text(encoding="utf-8", errors="replace")

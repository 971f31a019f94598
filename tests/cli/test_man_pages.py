"""The man pages in packages/<tool>/man are what click-man makes of the command lines today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

WORKSPACE = Path(__file__).resolve().parents[2]


def _pages(top: Path) -> dict[str, str]:
    return {
        str(path.relative_to(top)): path.read_text()
        for path in sorted(top.glob("packages/*/man/*.1"))
    }


def test_man_pages_are_up_to_date(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("man", WORKSPACE / "scripts" / "man.py")
    assert spec is not None and spec.loader is not None
    man = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(man)
    man.write_all(tmp_path)
    fresh = _pages(tmp_path)
    assert {"packages/moss/man/moss.1", "packages/boulder/man/boulder.1"} <= set(fresh)
    assert _pages(WORKSPACE) == fresh, "man pages are out of date: run `make man`"

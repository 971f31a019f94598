"""Coverage-guided fuzzing with atheris (libFuzzer), when it is installed: not a dependency.

    python tests/reliability/atheris_targets.py TARGET [SEED_DIR] -runs=N [libFuzzer options]

TARGET is `stone` (the reader over a whole package), `index` (a repository index through
`refresh`), `kdl`, `trigger` or `recipe`. Only the project's own errors may escape the target;
anything else is a crash libFuzzer reports (with the input saved). Run by test_atheris.py.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from boulder import BoulderError, load_recipe
    from moss_core import kdl
    from moss_core.errors import MossError
    from moss_core.installation import Installation
    from moss_core.repository import Repository, refresh
    from moss_core.triggers import TriggerError, parse_trigger
    from stone import MemorySink, StoneError, StoneReader

WORK = Path(tempfile.mkdtemp(prefix="atheris-"))


def _stone(data: bytes) -> None:
    try:
        with StoneReader(io.BytesIO(data), name="fuzz.stone") as reader:
            reader.metas()
            reader.layout()
            reader.index()
            reader.unpack_content(MemorySink())
    except StoneError:
        pass


def _index(data: bytes) -> None:
    repo_dir, root = WORK / "repo", WORK / "root"
    repo_dir.mkdir(exist_ok=True)
    root.mkdir(exist_ok=True)
    (repo_dir / "stone.index").write_bytes(data)
    with contextlib.suppress(MossError, StoneError):
        refresh(Installation.open(root), Repository("fuzz", f"file://{repo_dir}/stone.index", 0))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _kdl(data: bytes) -> None:
    with contextlib.suppress(kdl.KdlError):
        kdl.parse(_text(data))


def _trigger(data: bytes) -> None:
    with contextlib.suppress(TriggerError):
        parse_trigger(_text(data), "fuzz.yaml")


def _recipe(data: bytes) -> None:
    (WORK / "stone.yaml").write_bytes(data)
    with contextlib.suppress(BoulderError):
        load_recipe(WORK)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "stone": _stone,
    "index": _index,
    "kdl": _kdl,
    "trigger": _trigger,
    "recipe": _recipe,
}


def main() -> None:
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

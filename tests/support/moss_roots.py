"""Scratch moss roots for tests: packages made on the fly, moss run as its own process, and a
snapshot of what a root holds (its live tree and its databases) to compare roots by.

Importable as `moss_roots` from any test (the root conftest puts `tests/support` on sys.path).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stone import Dependency, Meta, Provider, scan_tree, write_binary

# Bytecode for the moss processes the tests start, kept out of the source tree: with
# PYTHONDONTWRITEBYTECODE set, every process would compile moss afresh (about 1 s each).
PYCACHE = Path(tempfile.gettempdir()) / f"aeryn-tests-pycache-{os.getuid()}"


def make_stone(
    directory: Path,
    name: str,
    files: Mapping[str, bytes | str] | None = None,
    *,
    version: str = "1.0",
    release: int = 1,
    depends: Sequence[str] = (),
    provides: Sequence[str] = (),
    conflicts: Sequence[str] = (),
    summary: str = "",
) -> Path:
    """A binary package whose files (paths relative to /usr) hold the given content.

    A value that is a `str` starting with `->` makes a symlink to the rest of it; files under
    `bin/` are executable.
    """
    tree = directory / f".tree-{name}-{version}-{release}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    for path, content in (files or {f"share/{name}/README": f"{name} {version}\n"}).items():
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content.startswith("->"):
            os.symlink(content[2:], target)
        else:
            target.write_bytes(content.encode() if isinstance(content, str) else content)
            if path.startswith("bin/"):
                target.chmod(0o755)
    meta = Meta(
        name=name,
        version=version,
        release=release,
        architecture="x86_64",
        summary=summary or f"The {name} package",
        source_id=name,
        licenses=("MIT",),
        depends=tuple(Dependency.parse(d) for d in depends),
        provides=tuple(Provider.parse(p) for p in provides),
        conflicts=tuple(Provider.parse(c) for c in conflicts),
    )
    scanned = scan_tree(tree)
    out = io.BytesIO()
    write_binary(out, meta, scanned.layout, scanned.blobs)
    path = directory / meta.filename
    path.write_bytes(out.getvalue())
    shutil.rmtree(tree)
    return path


def moss_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a moss process: ours, with bytecode cached outside the tree."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(PYCACHE), **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def moss_argv(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "moss", "-D", str(root), *args]


def run_moss(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    **kwargs: object,
) -> subprocess.CompletedProcess[str]:
    """Run `moss -D root ARGS...` as its own process; never raises on a failure status."""
    return subprocess.run(
        moss_argv(root, *args),
        capture_output=True,
        text=True,
        env=moss_env(env),
        check=False,
        timeout=timeout,
        **kwargs,  # type: ignore[arg-type]
    )


def copy_root(source: Path, target: Path) -> None:
    """A copy of a root, hard links within it kept (`cp -a`), as a fresh scratch root."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


# -- what a root holds ---------------------------------------------------------------------------


Entry = tuple[str, str, str]
"""(path below usr, kind and mode, content: sha256 of a file or a symlink's target)."""


def tree_listing(usr: Path) -> frozenset[Entry]:
    """Every entry below `usr` with its kind, permissions and content."""
    found: set[Entry] = set()
    if not usr.is_dir():
        return frozenset()
    for directory, dirs, files in os.walk(usr):
        for name in dirs + files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, usr)
            info = os.lstat(path)
            mode = f"{info.st_mode:o}"
            if os.path.islink(path):
                found.add((relative, f"link {mode}", os.readlink(path)))
            elif os.path.isdir(path):
                found.add((relative, f"dir {mode}", ""))
            else:
                with open(path, "rb") as source:
                    found.add((relative, f"file {mode}", hashlib.sha256(source.read()).hexdigest()))
    return frozenset(found)


@dataclass(frozen=True)
class DbView:
    """The databases of a root, as far as consistency goes."""

    states: dict[int, frozenset[str]]
    """Each state's selected package ids."""
    missing: tuple[str, ...]
    """Problems: a selected package without metadata or without layout rows."""


def db_view(root: Path) -> DbView:
    from moss_core.db import LayoutDb, MetaDb, StateDb

    db = root / ".moss/db"
    with (
        StateDb.open(db / "state") as state_db,
        MetaDb.open(db / "install") as install_db,
        LayoutDb.open(db / "layout") as layout_db,
    ):
        states = {s.id: frozenset(sel.package_id for sel in s.selections) for s in state_db.list()}
        wanted = set().union(*states.values()) if states else set()
        metas = install_db.get_many(wanted)
        missing = [f"no metadata for {p}" for p in sorted(wanted) if p not in metas]
        missing += [f"no layout for {p}" for p in sorted(wanted) if not layout_db.has(p)]
    return DbView(states, tuple(missing))


def active_state(root: Path) -> int | None:
    try:
        return int((root / "usr/.stateID").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None

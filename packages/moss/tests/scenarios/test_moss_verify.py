"""`state verify` on trees a path-based walk cannot read, and reports that tell the truth."""

from __future__ import annotations

import io
import os
from pathlib import Path

import xxhash

from stone import LayoutEntry, Meta, write_binary
from stone.writer import BytesBlob

from .helpers import MossRun

# Each component is well within NAME_MAX; together they are longer than PATH_MAX (4096).
DEEP = [f"{'d' * 200}{i}" for i in range(25)]


def _deep_package(directory: Path) -> Path:
    """A package whose one file lies deeper than any path a single syscall may name."""
    data = b"deep\n"
    digest = xxhash.xxh3_128_intdigest(data)
    layout = [LayoutEntry.directory("/".join(DEEP[: i + 1])) for i in range(len(DEEP))]
    layout.append(LayoutEntry.regular("/".join(DEEP) + "/file", digest))
    meta = Meta(
        name="deep",
        version="1",
        release=1,
        architecture="x86_64",
        summary="deep",
        source_id="deep",
    )
    out = io.BytesIO()
    write_binary(out, meta, layout, {digest: BytesBlob(data)})
    path = directory / "deep.stone"
    path.write_bytes(out.getvalue())
    return path


def _deepest(usr: Path) -> int:
    """An fd of the deepest directory, reached one component at a time."""
    fd = os.open(usr, os.O_RDONLY | os.O_DIRECTORY)
    for name in DEEP:
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    return fd


def test_verify_walks_paths_longer_than_path_max(root: Path, packages: Path, moss: MossRun) -> None:
    assert len("/".join(DEEP)) > os.pathconf("/", "PC_PATH_MAX")
    assert moss("install", str(_deep_package(packages))).code == 0
    clean = moss("state", "verify")
    assert clean.code == 0 and clean.out.strip().endswith("No issues found"), clean.text

    fd = _deepest(root / "usr")
    try:
        os.unlink("file", dir_fd=fd)
    finally:
        os.close(fd)
    repaired = moss("state", "verify")
    assert repaired.code == 0, repaired.text
    assert f"Missing path /usr/{'/'.join(DEEP)}/file in state #1" in repaired.out
    assert "All issues resolved" in repaired.out
    again = moss("state", "verify")
    assert again.out.strip().endswith("No issues found"), again.text
    fd = _deepest(root / "usr")
    try:
        assert os.stat("file", dir_fd=fd).st_size == 5
    finally:
        os.close(fd)

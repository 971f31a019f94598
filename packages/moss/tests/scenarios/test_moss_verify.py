"""`state verify` on trees a path-based walk cannot read, and reports that tell the truth."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import xxhash

from moss_core.db import LayoutDb, MetaDb
from moss_core.fs import sha256_file
from moss_core.store import asset_relpath
from stone import LayoutEntry, Meta, StoneReader, file_digest, write_binary
from stone.writer import BytesBlob

from .helpers import MossRun, make_stone, name_missing_content

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


def test_verify_reports_only_what_it_fixed(root: Path, packages: Path, moss: MossRun) -> None:
    """A root as an older moss left a refused package: its rows and cached download kept,
    its layout naming content it lacks. Verify fixes what it can and says what it cannot."""
    a = make_stone(packages, "a", {"share/a/data": b"precious"})
    assert moss("install", str(a)).code == 0
    b = make_stone(packages, "b", {"share/b/one": b"1", "share/b/two": b"2"})
    name_missing_content(b, "share/b/two", 0x3039)
    b_id = sha256_file(b)
    with StoneReader(b) as reader:
        meta, layout = reader.meta(), reader.layout()
    with (
        MetaDb.open(root / ".moss/db/install") as install_db,
        LayoutDb.open(root / ".moss/db/layout") as layout_db,
    ):
        install_db.add([(b_id, meta)])
        layout_db.add_many([(b_id, layout)])
    cached = root / ".moss/cache/downloads/v1" / b_id[:5] / b_id[-5:] / b_id
    cached.parent.mkdir(parents=True)
    shutil.copyfile(b, cached)
    (root / ".moss/assets" / asset_relpath(file_digest(str(root / "usr/share/a/data")))).unlink()

    repaired = moss("state", "verify")
    assert repaired.code == 1, repaired.text
    assert "All issues resolved" not in repaired.out
    assert "could not reinstall b: b: its layout names /usr/share/b/two" in repaired.err
    assert "no state selects it: `moss cache prune` forgets it" in repaired.err
    # a's asset came back; neither of b's did (the package lacks one, and was refused).
    assert "Fixed 1 of 3 issue(s); still wrong:\n × Missing asset 3039\n × Missing asset" in (
        repaired.out
    )
    assert repaired.err.endswith("moss: error: 2 issue(s) could not be fixed (listed above)\n")
    assert (root / "usr/share/a/data").read_bytes() == b"precious"

    assert moss("cache", "prune").code == 0
    assert moss("state", "verify").out.strip().endswith("No issues found")

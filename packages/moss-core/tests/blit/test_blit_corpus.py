"""The real corpus stones, unpacked into a scratch store and blitted: every file's bytes must
hash to its layout digest, every symlink must read back."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import xxhash

from moss_core.blit import EMPTY_DIGEST
from moss_core.vfs import build_tree
from stone import FileKind, LayoutEntry, MemorySink, StoneReader

from .conftest import Scratch


def test_corpus_stones_blit_to_their_layouts(corpus: Path, scratch: Scratch) -> None:
    rows: list[tuple[str, LayoutEntry]] = []
    for stone_path in sorted((corpus / "stones").glob("*.stone")):
        with StoneReader(stone_path) as reader:
            sink = MemorySink()
            reader.unpack_content(sink)
            rows += [(stone_path.name, entry) for entry in reader.layout()]
        for digest, content in sink.files.items():
            # Stored once, as moss does: an asset is read-only, and stones share some.
            if not scratch.asset(digest).exists():
                scratch.put(digest, content)
    assert rows

    tree = build_tree(rows)
    stats = scratch.blit(tree)
    assert stats.entries == len(tree)

    for node in tree.walk():
        path = scratch.usr.parent / node.path.lstrip("/")
        info = path.lstat()
        if node.kind is FileKind.SYMLINK:
            assert os.readlink(path) == node.link_target
        elif node.kind is FileKind.DIRECTORY:
            assert stat.S_ISDIR(info.st_mode)
        else:
            assert xxhash.xxh3_128_intdigest(path.read_bytes()) == node.digest
            wanted, actual = node.permissions & ~0o222, stat.S_IMODE(info.st_mode)
            assert actual & wanted == wanted and not actual & 0o222
            if node.digest != EMPTY_DIGEST:
                assert info.st_ino == scratch.asset(node.digest or 0).stat().st_ino

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import xxhash

from moss_core.blit import BlitStats, Strategy, blit
from moss_core.store import ASSET_MODE, asset_relpath
from moss_core.vfs import Tree


@dataclass
class Scratch:
    """A store (`assets/`) and a target directory (`sys/usr/`) in a temporary directory."""

    root: Path
    assets_fd: int
    target_fd: int

    @property
    def assets(self) -> Path:
        return self.root / "assets"

    @property
    def usr(self) -> Path:
        return self.root / "sys" / "usr"

    def add(self, content: bytes, mode: int = ASSET_MODE) -> int:
        """Put `content` in the store under its digest; return the digest."""
        digest = xxhash.xxh3_128_intdigest(content)
        self.put(digest, content, mode)
        return digest

    def put(self, digest: int, content: bytes, mode: int = ASSET_MODE) -> Path:
        path = self.asset(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
        return path

    def asset(self, digest: int) -> Path:
        return self.assets / asset_relpath(digest)

    def blit(self, tree: Tree, strategy: Strategy = Strategy.HARDLINK) -> BlitStats:
        return blit(tree, self.assets_fd, self.target_fd, strategy=strategy)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Scratch]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "sys" / "usr").mkdir(parents=True)
    assets_fd = os.open(tmp_path / "assets", os.O_RDONLY | os.O_DIRECTORY)
    target_fd = os.open(tmp_path / "sys" / "usr", os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield Scratch(tmp_path, assets_fd, target_fd)
    finally:
        os.close(assets_fd)
        os.close(target_fd)

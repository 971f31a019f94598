"""`compressman: true`: manual and info pages are shipped zstd-compressed (spec §3.9.7)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import zstandard

from boulder.build.collect import InstalledPath

_LEVEL = 16


def compressible(path: str) -> bool:
    here = PurePosixPath(path)
    parts, name = here.parts[:-1], here.name
    if "man" in parts and name and name[-1] in "12345678":
        return True
    return "info" in parts and name.endswith(".info")


def compress(item: InstalledPath) -> InstalledPath:
    """Replace a page by `<page>.zst` (times and mode kept); a symlink is renamed the same way
    and re-pointed at the compressed name of its target when that is a page too."""
    new_host = item.host.with_name(item.host.name + ".zst")
    new_path = item.path + ".zst"
    if item.link_target is not None:
        target = item.link_target
        if compressible(str(PurePosixPath(item.path).parent / target)):
            target += ".zst"
        new_host.unlink(missing_ok=True)
        os.symlink(target, new_host)
        item.host.unlink()
        return InstalledPath(new_path, new_host, os.lstat(new_host).st_mode, target)
    info = os.lstat(item.host)
    _compress_file(item.host, new_host)
    os.chmod(new_host, info.st_mode & 0o7777)
    os.utime(new_host, ns=(info.st_atime_ns, info.st_mtime_ns))
    item.host.unlink()
    return InstalledPath(new_path, new_host, os.lstat(new_host).st_mode)


def _compress_file(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    compressor = zstandard.ZstdCompressor(level=_LEVEL)
    with open(source, "rb") as plain, open(target, "xb") as out:
        compressor.copy_stream(plain, out, size=os.fstat(plain.fileno()).st_size)

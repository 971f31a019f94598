"""Publishing built packages as a moss repository, atomically for readers.

Layout of OUT (`main` is the channel):

    main/pool/<p>/<source>/<file>.stone        every package ever published, never replaced
    main/history/<n>/<arch>/stone.index        one snapshot; its packages are hard links below it
    main/history/<n>/<arch>/pool/...           (moss refuses index URIs that leave the index's dir)
    main/moss-root-index.json                  stream `volatile` → the newest snapshot
    stone.index                                the same packages for a plain `moss repo add`

A publication writes the pool files and a whole new snapshot first, where no reader looks;
the state database then records the outputs; last, the plain index and the root index are
each replaced by a rename: those renames are the switches readers see.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from moss_core.fs import fsync_directory, sha256_file, write_atomically
from stone import FileType, Meta, StoneError, StoneReader, write_index
from summit.errors import PublishError
from summit.state import Output

CHANNEL = "main"
STREAM = "volatile"
ROOT_INDEX = "moss-root-index.json"
INDEX = "stone.index"


def pool_path(meta: Meta) -> str:
    """Upstream vessel's pool layout: `lib…` sources get a four-letter prefix."""
    source = (meta.source_id or meta.name).lower()
    prefix = source[:4] if source.startswith("lib") and len(source) > 4 else source[:1]
    return f"{CHANNEL}/pool/{prefix}/{source}/{meta.filename}"


@dataclass(frozen=True, slots=True)
class Staged:
    path: Path
    meta: Meta
    output: Output


def read_package(path: Path) -> Meta:
    try:
        with StoneReader(path) as reader:
            reader.expect(FileType.BINARY)
            return reader.meta()
    except (StoneError, OSError) as err:
        raise PublishError(f"{path}: not a package: {err}") from None


def stage(stones: Iterable[Path], known: Sequence[Output]) -> list[Staged]:
    """Check built packages against what is published: the same file name (name, version,
    release, build release) with different bytes is an error, never silently skipped."""
    by_file = {o.file: o for o in known}
    staged: list[Staged] = []
    for path in sorted(stones):
        meta = read_package(path)
        file = pool_path(meta)
        output = Output(
            file, meta.name, path.stat().st_size, sha256_file(path),
            tuple(sorted({f"name({meta.name})", *(str(p) for p in meta.provides)})),
        )  # fmt: skip
        old = by_file.get(file)
        if old is not None and old.sha256 != output.sha256:
            raise PublishError(
                f"{path.name}: {meta.name} {meta.version}-{meta.release} is already published "
                f"with different bytes (sha256 {old.sha256}); bump the release"
            )
        staged.append(Staged(path, meta, output))
    return staged


class Repository:
    """The published repository at `root`, for one architecture."""

    def __init__(self, root: Path, arch: str) -> None:
        self.root = root
        self.arch = arch

    @property
    def channel(self) -> Path:
        return self.root / CHANNEL

    def add_to_pool(self, staged: Sequence[Staged], recorded: Iterable[Output]) -> None:
        """Copy packages into the pool, durably, without ever replacing a recorded one. A file
        there that no publication recorded is left by a crash before the switch: no reader
        can know it, so it makes way."""
        recorded_files = {o.file for o in recorded}
        for item in staged:
            target = self.root / item.output.file
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                if item.output.file in recorded_files:
                    continue
                target.unlink()
            part = target.with_name(f".{target.name}.part")
            with open(item.path, "rb") as src, open(part, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(part, target)
            finally:
                part.unlink()
            fsync_directory(target.parent)

    def snapshot(self, outputs: Sequence[Output]) -> str:
        """A new history snapshot holding the newest release of each package; its id."""
        history = self.channel / "history"
        history.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.name) for p in history.iterdir() if p.name.isdigit()]
        ident = str(max(numbers, default=0) + 1)
        directory = history / ident / self.arch
        directory.mkdir(parents=True)
        metas = self._metas(outputs)
        for meta in metas:
            assert meta.uri is not None
            link = directory / meta.uri
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(self.root / CHANNEL / meta.uri, link)
        write_atomically(directory / INDEX, _index_bytes(metas))
        return ident

    def _metas(self, outputs: Sequence[Output]) -> list[Meta]:
        """Index entries, URIs relative to the channel directory (`pool/...`)."""
        best: dict[str, Meta] = {}
        for out in outputs:
            meta = read_package(self.root / out.file)
            entry = replace(
                meta, uri=out.file.removeprefix(f"{CHANNEL}/"), hash=out.sha256,
                download_size=out.size,
            )  # fmt: skip
            current = best.get(meta.name)
            if current is None or (meta.release, meta.build_release) > (
                current.release, current.build_release,
            ):  # fmt: skip
                best[meta.name] = entry
        return sorted(best.values(), key=lambda m: m.name)

    def switch(self, ident: str, outputs: Sequence[Output]) -> None:
        """Make snapshot `ident` what readers see: the plain index, then the root index."""
        metas = [replace(m, uri=f"{CHANNEL}/{m.uri}") for m in self._metas(outputs) if m.uri]
        write_atomically(self.root / INDEX, _index_bytes(metas))
        history = sorted(
            (p.name for p in (self.channel / "history").iterdir() if p.name.isdigit()),
            key=int, reverse=True,
        )  # fmt: skip
        document = {
            "formats": {"v0": {}},
            "streams": {STREAM: {"format": "v0", "history": ident}},
            "tags": {},
            "history": {h: {"format": "v0"} for h in history},
        }
        write_atomically(self.channel / ROOT_INDEX, json.dumps(document, indent=2) + "\n")

    def current(self) -> str | None:
        """The snapshot the root index names, if any."""
        try:
            document = json.loads((self.channel / ROOT_INDEX).read_text(encoding="utf-8"))
            return str(document["streams"][STREAM]["history"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _index_bytes(metas: Sequence[Meta]) -> bytes:
    out = io.BytesIO()
    write_index(out, metas)
    return out.getvalue()

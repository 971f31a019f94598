"""Publishing: the pool never replaces a published file, an equal release with other bytes is
refused, and a publication interrupted before its switch leaves the old one whole."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import xxhash

from stone import BytesBlob, FileType, LayoutEntry, Meta, StoneReader, write_binary
from summit.errors import PublishError
from summit.publish import Repository, stage
from summit.queue import Task
from summit.state import State


def _package(directory: Path, name: str, release: int, text: str = "") -> Path:
    content = f"{name} {release} {text}\n".encode()
    digest = xxhash.xxh3_128_intdigest(content)
    meta = Meta(
        name=name, version="1.0", release=release, build_release=1, architecture="x86_64",
        source_id=name,
    )  # fmt: skip
    out = io.BytesIO()
    write_binary(
        out, meta, [LayoutEntry.regular(f"share-{name}", digest)], {digest: BytesBlob(content)}
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / meta.filename
    path.write_bytes(out.getvalue())
    return path


def _published(out: Path) -> list[str]:
    root = json.loads((out / "main" / "moss-root-index.json").read_text())
    history = root["streams"]["volatile"]["history"]
    base = out / "main" / "history" / history / "x86_64"
    with StoneReader(base / "stone.index") as reader:
        reader.expect(FileType.REPOSITORY)
        metas = reader.metas()
    assert all(m.uri is not None and (base / m.uri).is_file() for m in metas)
    return [f"{m.name}-{m.release}" for m in metas]


def _publish(repo: Repository, state: State, name: str, stones: list[Path]) -> None:
    known = state.outputs()
    staged = stage(stones, known)
    repo.add_to_pool(staged, known)
    everything = [*known, *(s.output for s in staged if s.output not in known)]
    ident = repo.snapshot(everything)
    state.sync([Task(name, "1.0", staged[0].meta.release, name)])
    attempt = state.start(name, None, repo.root / "logs" / name)
    state.finish(name, attempt, "w", staged[0].meta.release, [s.output for s in staged])
    repo.switch(ident, everything)


def test_equal_release_with_other_bytes_is_refused(tmp_path: Path) -> None:
    repo, state = Repository(tmp_path / "out", "x86_64"), State(tmp_path / "state.db")
    _publish(repo, state, "a", [_package(tmp_path / "s1", "a", 1)])
    other = _package(tmp_path / "s2", "a", 1, "rebuilt differently")
    with pytest.raises(PublishError, match="already published with different bytes"):
        stage([other], state.outputs())
    same = _package(tmp_path / "s3", "a", 1)
    assert len(stage([same], state.outputs())) == 1
    _publish(repo, state, "a", [_package(tmp_path / "s4", "a", 2)])
    assert _published(repo.root) == ["a-2"]
    assert len(list((repo.root / "main" / "pool").rglob("*.stone"))) == 2


def test_publication_interrupted_before_the_switch(tmp_path: Path) -> None:
    repo, state = Repository(tmp_path / "out", "x86_64"), State(tmp_path / "state.db")
    _publish(repo, state, "a", [_package(tmp_path / "s1", "a", 1)])
    before = (repo.root / "main" / "moss-root-index.json").read_bytes()
    # A crash after the pool and the new snapshot are written, before anything is recorded.
    crashed = stage([_package(tmp_path / "s2", "b", 1, "first build")], state.outputs())
    repo.add_to_pool(crashed, state.outputs())
    repo.snapshot([*state.outputs(), crashed[0].output])
    assert (repo.root / "main" / "moss-root-index.json").read_bytes() == before
    assert _published(repo.root) == ["a-1"]
    # The rebuild after restart differs in bytes: the unrecorded pool file makes way.
    _publish(repo, state, "b", [_package(tmp_path / "s3", "b", 1, "second build")])
    assert _published(repo.root) == ["a-1", "b-1"]
    assert [o.package for o in state.outputs()] == ["a", "b"]

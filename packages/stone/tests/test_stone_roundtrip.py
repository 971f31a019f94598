"""`stone create` of generated trees reads back as the same tree, and writes identical bytes."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from stone import (
    BytesBlob,
    FileKind,
    LayoutEntry,
    Meta,
    PayloadKind,
    StoneReader,
    extract,
    scan_tree,
    write_binary,
)
from stone.cli import main

from .treegen import TREES, build, snapshot

META = Meta(name="generated", version="1.0", release=3, architecture="x86_64", licenses=("MIT",))


def _pack(root: Path) -> bytes:
    tree = scan_tree(root)
    out = io.BytesIO()
    write_binary(out, META, tree.layout, tree.blobs)
    return out.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_create_then_extract_gives_the_same_tree(tree: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch, "source"), Path(scratch, "target")
        source.mkdir()
        target.mkdir()
        build(source, tree)
        first = _pack(source)
        assert _pack(source) == first, "packing the same tree twice must give the same bytes"
        with StoneReader(io.BytesIO(first), name="generated.stone") as reader:
            extract(reader, target)
        assert snapshot(target) == snapshot(source)


def test_binary_package_layout_follows_upstream(tmp_path: Path) -> None:
    small, large = b"small", b"L" * 5000
    layout = [
        LayoutEntry.regular("bin/a", 1),
        LayoutEntry.regular("bin/b", 2),
        LayoutEntry.regular("share/copy-of-a", 1),
        LayoutEntry.symlink("bin/c", "a"),
    ]
    blobs = {1: BytesBlob(small), 2: BytesBlob(large)}
    out = io.BytesIO()
    write_binary(out, META, layout, blobs)
    with StoneReader(io.BytesIO(out.getvalue()), name="x.stone") as reader:
        assert [ref.header.kind for ref in reader.payloads] == [
            PayloadKind.META,
            PayloadKind.LAYOUT,
            PayloadKind.INDEX,
            PayloadKind.CONTENT,
        ]
        # Unique content once, largest first, contiguous from 0.
        assert [(e.start, e.end, e.digest) for e in reader.index()] == [
            (0, 5000, 2),
            (5000, 5005, 1),
        ]
        content = reader.payloads[-1].header
        assert (content.num_records, content.plain_size) == (0, 5005)
        assert reader.layout() == layout
        assert reader.meta() == META


def test_package_without_files_has_no_index_or_content() -> None:
    out = io.BytesIO()
    write_binary(out, META, [LayoutEntry.symlink("bin/x", "y")], {})
    with StoneReader(io.BytesIO(out.getvalue()), name="x.stone") as reader:
        assert [ref.header.kind for ref in reader.payloads] == [
            PayloadKind.META,
            PayloadKind.LAYOUT,
        ]
    out = io.BytesIO()
    write_binary(out, META, [], {})
    assert out.getvalue()[4:6] == b"\x00\x01"


def test_single_empty_file_gets_the_nine_byte_empty_frame() -> None:
    digest = 0x99AA06D3014798D86001C324468D497F
    out = io.BytesIO()
    write_binary(out, META, [LayoutEntry.regular("share/empty", digest)], {digest: BytesBlob(b"")})
    data = out.getvalue()
    assert data[-9:] == bytes.fromhex("28b52ffd2000010000")


def test_rewriting_bash_completion_drops_nuls(corpus: Path) -> None:
    from stone import MemorySink

    with StoneReader(corpus / "stones/bash-completion-2.11-1-1-x86_64.stone") as reader:
        sink = MemorySink()
        reader.unpack_content(sink)
        meta, layout = reader.meta(), reader.layout()
    out = io.BytesIO()
    write_binary(out, meta, layout, {d: BytesBlob(b) for d, b in sink.files.items()})
    with StoneReader(io.BytesIO(out.getvalue()), name="rewritten.stone") as reader:
        headers = {ref.header.kind: ref.header for ref in reader.payloads}
        assert headers[PayloadKind.LAYOUT].plain_size == 63_715
        assert headers[PayloadKind.CONTENT].num_records == 0
        assert headers[PayloadKind.CONTENT].plain_size == 872_279
        assert reader.layout() == layout
        check = MemorySink()
        reader.unpack_content(check)
        assert check.files == sink.files


def test_cli_create_and_extract(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "hello").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "bin" / "hello", 0o755)
    (root / "bin" / "hi").symlink_to("hello")
    (root / "share" / "empty").mkdir(parents=True)
    output = tmp_path / "hello-1.0-1-1-x86_64.stone"
    runner = CliRunner()
    args = [
        "create",
        "--root",
        str(root),
        "--name",
        "hello",
        "--version",
        "1.0",
        "--release",
        "1",
        "--arch",
        "x86_64",
        "--license",
        "MIT",
        "--depends",
        "soname(libc.so.6(x86_64))",
        "--provides",
        "binary(hello)",
        "-o",
        str(output),
    ]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    first = output.read_bytes()
    assert runner.invoke(main, args).exit_code == 0
    assert output.read_bytes() == first
    with StoneReader(output) as reader:
        meta = reader.meta()
        assert [str(d) for d in meta.depends] == ["soname(libc.so.6(x86_64))"]
        assert [str(p) for p in meta.provides] == ["binary(hello)"]
        kinds = {e.path: e.kind for e in reader.layout()}
        assert kinds == {
            "bin/hello": FileKind.REGULAR,
            "bin/hi": FileKind.SYMLINK,
            "share/empty": FileKind.DIRECTORY,
        }
    result = runner.invoke(main, ["extract", str(output), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path / "out") == snapshot(root)

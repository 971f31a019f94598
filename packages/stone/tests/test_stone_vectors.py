"""The three real packages decode to the test vectors of spec §15."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import zstandard

from stone import (
    Dependency,
    FileKind,
    FileType,
    MemorySink,
    PayloadKind,
    Provider,
    RelationKind,
    StoneReader,
)

EMPTY_DIGEST = 0x99AA06D3014798D86001C324468D497F


@pytest.fixture(scope="module")
def stones(corpus: Path) -> Path:
    return corpus / "stones"


def _payload_rows(reader: StoneReader) -> list[tuple[int, str, int, int, int, str]]:
    return [
        (
            ref.offset - 32,
            ref.header.kind.text if ref.header.kind else "?",
            ref.header.stored_size,
            ref.header.plain_size,
            ref.header.num_records,
            f"{ref.header.checksum:016x}",
        )
        for ref in reader.payloads
    ]


def test_pineapple(stones: Path) -> None:
    path = stones / "pineapple-1-1-1-x86_64.stone"
    data = path.read_bytes()
    assert len(data) == 426
    assert hashlib.sha256(data).hexdigest() == (
        "1c8681fda365a0dbb05e598db311e4c951fed2c65e070273940d85541c02ab07"
    )
    assert (
        data[:32].hex()
        == "006d6f730004000001000002000003000004000005000006000007" + "01" + "00000001"
    )
    with StoneReader(path) as reader:
        assert reader.file_type is FileType.BINARY
        assert _payload_rows(reader) == [
            (32, "meta", 158, 215, 10, "4d9d54472441e575"),
            (222, "layout", 67, 72, 1, "1326d2487ca30bd1"),
            (321, "index", 32, 32, 1, "911d313ef4ec8028"),
            (385, "content", 9, 0, 0, "e6fb29dda2e7a873"),
        ]
        assert data[222:254].hex() == (
            "000000000000004300000000000000481326d2487ca30bd10000000100010302"
        )
        meta = reader.meta()
        assert (meta.name, meta.version, meta.release, meta.build_release) == (
            "pineapple",
            "1",
            1,
            1,
        )
        assert meta.architecture == "x86_64"
        assert meta.summary == "Delicious slices of pineapples"
        assert meta.description == "Can I be on your pizza?"
        assert meta.source_id == "pineapple"
        assert meta.homepage == "https://github.com/serpent-os"
        assert meta.licenses == ("Zlib",)
        assert meta.depends == meta.provides == meta.conflicts == ()
        [entry] = reader.layout()
        assert entry.kind is FileKind.REGULAR
        assert (entry.mode, entry.uid, entry.gid) == (0o100644, 0, 0)
        assert entry.path == "share/defaults/pienapple"
        assert entry.digest == EMPTY_DIGEST
        [index] = reader.index()
        assert (index.start, index.end, index.digest) == (0, 0, EMPTY_DIGEST)
        sink = MemorySink()
        reader.unpack_content(sink)
        assert sink.files == {EMPTY_DIGEST: b""}


def test_italian_pizza_conflicts(stones: Path) -> None:
    path = stones / "italian-pizza-1-1-1-x86_64.stone"
    data = path.read_bytes()
    assert len(data) == 443
    assert hashlib.sha256(data).hexdigest() == (
        "b58e019a60692199a97c3c78e21ae96f9d3a876008abf2ffabe9cdca97113a7f"
    )
    with StoneReader(path) as reader:
        assert _payload_rows(reader) == [
            (32, "meta", 171, 256, 11, "5b5160d68add1855"),
            (235, "layout", 71, 76, 1, "6559741ee73c9457"),
            (338, "index", 32, 32, 1, "911d313ef4ec8028"),
            (402, "content", 9, 0, 0, "e6fb29dda2e7a873"),
        ]
        meta = reader.meta()
        assert meta.name == "italian-pizza"
        assert meta.summary == "A certain Italian pizza that hates pineapples"
        assert meta.description == "Me no like pineapples."
        assert meta.conflicts == (Provider(RelationKind.NAME, "pineapple"),)
        [conflict_record] = [r for r in reader.meta_records() if r.tag == 10]
        assert conflict_record.primitive == 11
        [entry] = reader.layout()
        assert entry.path == "share/defaults/italian-pizza"
        assert entry.digest == EMPTY_DIGEST


def test_bash_completion_boulder_d(stones: Path) -> None:
    path = stones / "bash-completion-2.11-1-1-x86_64.stone"
    data = path.read_bytes()
    assert len(data) == 168_864
    assert hashlib.sha256(data).hexdigest() == (
        "13e2bce256b183ee0c721bd6cc438be8dcebf95850c8d851801e4ce000195d94"
    )
    assert data[32:64].hex() == "0000000000000133000000000000020af747b760662204450000000b00010102"
    first_meta = zstandard.ZstdDecompressor().stream_reader(data[64 : 64 + 307]).read()
    assert first_meta[:24] == bytes.fromhex("00000010 0001 09 00") + b"bash-completion\0"
    with StoneReader(path) as reader:
        assert _payload_rows(reader) == [
            (32, "meta", 307, 522, 11, "f747b76066220445"),
            (371, "layout", 13_792, 64_731, 745, "00080612c2aed8f1"),
            (14_195, "index", 9_070, 15_168, 474, "aef2da49e8b09548"),
            (23_297, "content", 145_535, 872_279, 474, "f99daf817c7da14c"),
        ]
        assert reader.payloads[-1].offset + reader.payloads[-1].header.stored_size == len(data)
        meta = reader.meta()
        assert (meta.name, meta.version, meta.release, meta.build_release) == (
            "bash-completion",
            "2.11",
            1,
            1,
        )
        assert meta.summary == "Programmable completion functions for bash"
        assert meta.homepage == "https://github.com/scop/bash-completion"
        assert meta.licenses == ("GPL-2.0-or-later",)
        assert meta.provides == (Provider(RelationKind.CMAKE, "bash-completion"),)

        layout = reader.layout()
        assert len(layout) == 745
        regular = [e for e in layout if e.kind is FileKind.REGULAR]
        links = [e for e in layout if e.kind is FileKind.SYMLINK]
        assert (len(regular), len(links)) == (474, 271)
        assert {e.mode for e in regular} == {0o100644}
        assert {e.mode for e in links} == {0o120777}
        assert {(e.uid, e.gid, e.tag) for e in layout} == {(0, 0, 0)}
        assert sum(e.path.startswith("share/bash-completion/") for e in layout) == 743
        assert sum(e.path.startswith("share/cmake/") for e in layout) == 2
        by_path = {e.path: e for e in layout}
        assert layout[0].path == "share/bash-completion/bash_completion"
        assert layout[0].digest == 0x3C005061E2D565B469E9ABDFE6478CFE
        assert (
            by_path["share/bash-completion/completions/7z"].digest
            == 0x9AA8368C9CCB6E7799B62CF1FAA036E3
        )
        assert by_path["share/bash-completion/completions/7za"].link_target == "7z"
        assert (
            by_path["share/bash-completion/completions/ssh"].digest
            == 0x0BCCF23BC5E8E92B3D0EE124EBD470DF
        )
        assert (
            by_path["share/bash-completion/completions/_mock"].digest
            == 0x0643FF65BBFAEA9EEB0501FEBFF14E5C
        )
        assert layout[-1].path == "share/cmake/bash-completion/bash-completion-config.cmake"
        assert layout[-1].digest == 0x99D9990C4A3C70DD5A8ADF383922E6D1

        index = reader.index()
        assert len(index) == 474
        assert [(e.start, e.end) for e in index[:3]] == [(0, 76332), (76332, 77255), (77255, 81553)]
        assert index[1].digest == 0x97151F442B0606DBAB0F46F961B489A2
        assert (index[-1].start, index[-1].end, index[-1].digest) == (
            871_886,
            872_279,
            0x99D9990C4A3C70DD5A8ADF383922E6D1,
        )
        assert {e.digest for e in regular} == {e.digest for e in index}

        sink = MemorySink()
        reader.unpack_content(sink)
        ordered = sorted(index, key=lambda e: e.start)
        content = b"".join(sink.files[e.digest] for e in ordered)
        assert len(content) == 872_279
        assert hashlib.sha256(content).hexdigest() == (
            "686050146b7343f177f6f4bd59a5647994ed7a58c2fd5efd77e0a8352c301ac0"
        )
        assert hashlib.sha256(sink.files[layout[0].digest]).hexdigest() == (
            "2678afe432cb9cf181b5fff2868a81e34cadd69e9d35611116433fe1798029b5"
        )


def test_kind_of_each_payload_in_order(stones: Path) -> None:
    for path in sorted(stones.glob("*.stone")):
        with StoneReader(path) as reader:
            kinds = [ref.header.kind for ref in reader.payloads]
            assert kinds == [
                PayloadKind.META,
                PayloadKind.LAYOUT,
                PayloadKind.INDEX,
                PayloadKind.CONTENT,
            ]


def test_depends_vector_from_manifest(corpus: Path) -> None:
    with StoneReader(corpus / "recipes/a/aardvark-dns/manifest.x86_64.bin") as reader:
        assert reader.file_type is FileType.BUILD_MANIFEST
        [meta] = reader.metas()
        assert meta.build_release == 0
        assert [str(d) for d in meta.depends] == [
            "interpreter(/usr/lib/ld-linux-x86-64.so.2(x86_64))",
            "soname(ld-linux-x86-64.so.2(x86_64))",
            "soname(libc.so.6(x86_64))",
            "soname(libgcc_s.so.1(x86_64))",
            "soname(libm.so.6(x86_64))",
        ]
        assert meta.depends[2] == Dependency(RelationKind.SONAME, "libc.so.6(x86_64)")
        assert _payload_rows(reader) == [(32, "meta", 237, 467, 15, "c301c9ab035a836e")]

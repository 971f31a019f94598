"""Every real build manifest decodes, renders as boulder's report, and re-encodes exactly."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import zstandard

from stone import PayloadKind, StoneReader, manifest_report, write_manifest
from stone.meta import encode_meta


def _manifests(corpus: Path) -> list[Path]:
    found = sorted(corpus.glob("recipes/*/*/manifest.x86_64.bin"))
    assert len(found) >= 1442
    return found


def _plain_payloads(data: bytes) -> list[bytes]:
    with StoneReader(io.BytesIO(data), name="<memory>") as reader:
        return [
            zstandard.ZstdDecompressor()
            .stream_reader(data[ref.offset : ref.offset + ref.header.stored_size])
            .read()
            for ref in reader.payloads
        ]


def _spelled_name_kind(package: dict[str, object]) -> bool:
    """boulder's report copies recipe text verbatim, so a recipe that writes `name(foo)` shows
    it so, while the binary stores kind + name only: our report, made from the binary, writes
    the bare name as the report does for every other recipe. Normalise those few entries."""
    changed = False
    for key in ("build-depends", "depends"):
        values = package.get(key)
        if isinstance(values, list) and any(v.startswith("name(") for v in values):
            package[key] = sorted({v[5:-1] if v.startswith("name(") else v for v in values})
            changed = True
    return changed


def test_every_manifest_matches_its_report(corpus: Path) -> None:
    mismatches = []
    spelled: set[str] = set()
    compared = 0
    for path in _manifests(corpus):
        jsonc = path.with_suffix(".jsonc")
        with StoneReader(path) as reader:
            report = manifest_report(reader.metas())
        if not jsonc.exists():
            continue
        header, _, body = jsonc.read_text().partition("\n")
        assert header == "/** Human readable report. This is not consumed by boulder */"
        expected = json.loads(body)
        for package in expected["packages"].values():
            del package["files"]
            if _spelled_name_kind(package):
                spelled.add(str(path))
        # Same keys in the same order, same values.
        if json.dumps(report) != json.dumps(expected):
            mismatches.append(str(path))
        compared += 1
    assert compared >= 1441
    # Only iniparser's recipe spells a build dependency `name(doxygen)`.
    assert len(spelled) <= 1, spelled
    assert not mismatches, f"{len(mismatches)} reports differ, e.g. {mismatches[:5]}"


def test_every_manifest_reencodes_byte_for_byte(corpus: Path) -> None:
    differing = []
    for path in _manifests(corpus):
        data = path.read_bytes()
        with StoneReader(path) as reader:
            metas = reader.metas()
            for ref, meta in zip(reader.of_kind(PayloadKind.META), metas, strict=True):
                _, count = encode_meta(meta.records())
                assert count == ref.header.num_records
        out = io.BytesIO()
        write_manifest(out, metas)
        written = out.getvalue()
        if written[:32] != data[:32] or _plain_payloads(written) != _plain_payloads(data):
            differing.append(str(path))
    assert not differing, f"{len(differing)} manifests re-encode differently, e.g. {differing[:5]}"


@pytest.mark.parametrize("recipe", ["n/nano", "a/aardvark-dns"])
def test_cli_manifest_line(corpus: Path, recipe: str) -> None:
    from click.testing import CliRunner

    from stone.cli import main

    path = corpus / "recipes" / recipe / "manifest.x86_64.bin"
    result = CliRunner().invoke(main, ["manifest", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1
    rendered = json.loads(lines[0])
    assert list(rendered) == [
        "manifest-version",
        "packages",
        "source-name",
        "source-release",
        "source-version",
    ]
    assert isinstance(rendered["source-release"], str)

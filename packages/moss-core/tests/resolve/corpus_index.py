"""A repository index made of the real corpus manifests: every package boulder built, with
made-up download fields (the URIs need not resolve)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

from moss_core.registry import Package
from stone import Dependency, Meta, Provider, StoneReader, write_index

OUTSIDE = "outside-the-corpus"


def corpus_metas(corpus: Path) -> list[Meta]:
    metas: dict[str, Meta] = {}
    for path in sorted(corpus.glob("recipes/*/*/manifest.x86_64.bin")):
        with StoneReader(path) as reader:
            for meta in reader.metas():
                fake = hashlib.sha256(
                    f"{meta.name}-{meta.version}-{meta.release}".encode()
                ).hexdigest()
                metas[meta.name] = replace(
                    meta,
                    build_release=1,
                    build_depends=(),
                    uri=f"{meta.name}.stone",
                    hash=fake,
                    download_size=1,
                )
    return list(metas.values())


def with_outside_world(metas: list[Meta]) -> list[Meta]:
    """The corpus holds recipes a-r only: one extra package stands for everything outside it,
    providing whatever no corpus package provides, so whole transactions can resolve."""
    provided = {p for meta in metas for p in meta.all_provides()}
    missing = {
        Provider(dep.kind, dep.name)
        for meta in metas
        for dep in meta.depends
        if Provider(dep.kind, dep.name) not in provided
    }
    outside = Meta(
        name=OUTSIDE,
        version="1",
        release=1,
        provides=tuple(sorted(missing)),
        uri=f"{OUTSIDE}.stone",
        hash=hashlib.sha256(OUTSIDE.encode()).hexdigest(),
        download_size=1,
    )
    return [*metas, outside]


def index_bytes(metas: list[Meta]) -> bytes:
    out = io.BytesIO()
    write_index(out, metas)
    return out.getvalue()


def packages(metas: list[Meta], source: str = "corpus") -> list[Package]:
    return [Package(meta.hash or "", meta, source) for meta in metas]


def unsatisfied(chosen: list[Package]) -> dict[str, list[Dependency]]:
    """For each chosen package, the dependencies that no chosen package provides."""
    offered = {p for c in chosen for p in c.meta.all_provides()}
    missing = {
        package.name: [d for d in package.meta.depends if Provider(d.kind, d.name) not in offered]
        for package in chosen
    }
    return {name: deps for name, deps in missing.items() if deps}

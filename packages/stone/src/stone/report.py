"""Build manifests rendered as boulder's human-readable JSON report (the `.jsonc`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .errors import RecordError
from .meta import Meta
from .relation import Dependency, Provider

MANIFEST_VERSION = "0.2"


def _texts(relations: Iterable[Dependency | Provider]) -> list[str]:
    # The report writes `name` relations bare and sorts by that text, as recipes spell them.
    return sorted({relation.plain_text for relation in relations})


def manifest_report(metas: Sequence[Meta]) -> dict[str, Any]:
    """The report of a build manifest, keys and order as boulder writes them, minus `files`
    (the binary manifest does not record file lists)."""
    if not metas:
        raise RecordError("build manifest holds no packages")
    packages: dict[str, Any] = {}
    for meta in sorted(metas, key=lambda meta: meta.name):
        entry: dict[str, Any] = {}
        for key, values in (
            ("build-depends", _texts(meta.build_depends)),
            ("depends", _texts(meta.depends)),
        ):
            if values:
                entry[key] = values
        entry["name"] = meta.name
        provides = _texts(meta.provides)
        if provides:
            entry["provides"] = provides
        packages[meta.name] = entry
    first = metas[0]
    return {
        "manifest-version": MANIFEST_VERSION,
        "packages": packages,
        "source-name": first.source_id,
        "source-release": str(first.release),
        "source-version": first.version,
    }

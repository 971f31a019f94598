"""Resolution time over an index of the real corpus (1,442 recipes, ~4,000 packages): every
package at once, from the repository's SQLite database."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packages/moss-core/tests/resolve"))

from corpus_index import OUTSIDE, corpus_metas, with_outside_world  # noqa: E402

from moss_core.db import MetaDb  # noqa: E402
from moss_core.registry import Registry  # noqa: E402
from moss_core.repository import Repository, RepositorySource  # noqa: E402
from moss_core.resolve import Lookup, resolve  # noqa: E402
from stone import FlatMeta  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"


def main() -> dict[str, float]:
    if not CORPUS.is_dir():
        return {"skipped_no_corpus": 1.0, "ratio": 0.0}
    metas = with_outside_world(corpus_metas(CORPUS))
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        MetaDb.rebuild(Path(tmp) / "db", ((meta.hash or "", FlatMeta.of(meta)) for meta in metas))
        repo = Repository(id="corpus", uri="file:///corpus/stone.index", priority=0)
        for _ in range(3):
            source = RepositorySource(repo, MetaDb.open(Path(tmp) / "db"), repo.uri)
            registry = Registry([source])
            started = time.perf_counter()
            roots = [p.id for p in registry.available() if p.name != OUTSIDE]
            chosen = resolve(registry, roots, Lookup.AVAILABLE_ONLY)
            timings.append(time.perf_counter() - started)
            source.close()
    return {"packages": float(len(chosen)), "resolve_all_s": statistics.median(timings)}


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key:>16}: {value:.3f}")

"""Root-index repositories: which `stone.index` a configured version stands for.

A repository given by `base-uri` publishes `<base>/<channel>/moss-root-index.json`, a JSON
object whose `streams` and `tags` each name a snapshot in `history`, and whose `history` says
each snapshot's index format. The index of snapshot `h` is
`<base>/<channel>/history/<h>/<arch>/stone.index`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from moss_core.repository import _transport
from moss_core.repository._model import Repository, RepositoryError, RootIndex, is_identifier
from moss_core.repository.limits import DEFAULT_LIMITS, TransferLimits

# Index formats this moss reads: the `stone.index` of both is the one `moss index` writes.
READABLE_FORMATS = ("legacy", "v0")
# A root index lists names, not packages: anything near this size is not one.
MAX_ROOT_INDEX_BYTES = 16 << 20
_TABLES = {"stream": "streams", "tag": "tags"}
# Given a document's URI and bytes, raises if they may not be used.
Check = Callable[[str, bytes], None]


def resolve_index_uri(
    repo: Repository, limits: TransferLimits = DEFAULT_LIMITS, check: Check | None = None
) -> str:
    """The URI of the `stone.index` the repository stands for now (its root index is fetched,
    and given to `check` before it is read)."""
    if repo.root_index is None:
        return repo.uri
    uri = repo.root_index_uri()
    document = fetch_root_index(uri, limits, check)
    return repo.history_index_uri(snapshot_of(document, repo.root_index, uri))


def fetch_root_index(
    uri: str, limits: TransferLimits = DEFAULT_LIMITS, check: Check | None = None
) -> object:
    """The root index at `uri`, parsed; `check` sees its bytes first (a pinned key's)."""
    data = _transport.fetch_small(uri, MAX_ROOT_INDEX_BYTES, limits)
    if check is not None:
        check(uri, data)
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:
        raise RepositoryError(f"{uri}: not a root index: {err}") from None


def snapshot_of(document: object, root: RootIndex, uri: str) -> str:
    """The snapshot `root.version` names in a root index (parsed JSON read from `uri`)."""
    history = _table(document, "history", uri)
    snapshot = _follow(document, root.version, uri)
    meta = history.get(snapshot)
    if not isinstance(meta, dict):
        raise RepositoryError(f"{uri}: {root.version} names {snapshot!r}, which is not in history")
    index_format = meta.get("format")
    if index_format not in READABLE_FORMATS:
        raise RepositoryError(
            f"{uri}: {root.version} is in index format {index_format!r}, which this moss does"
            f" not read (it reads {', '.join(READABLE_FORMATS)}){_upgrade_hint(document, uri)}"
        )
    return snapshot


def _follow(document: object, version: str, uri: str) -> str:
    scope, _, name = version.partition("/")
    if scope == "history":
        return name
    entry = _table(document, _TABLES[scope], uri).get(name)
    if entry is None:
        raise RepositoryError(f"{uri}: there is no {scope} {name!r}")
    snapshot = entry.get("history") if isinstance(entry, dict) else None
    if not isinstance(snapshot, str) or not is_identifier(snapshot):
        raise RepositoryError(f"{uri}: {version} names no valid snapshot: {snapshot!r}")
    return snapshot


def _table(document: object, name: str, uri: str) -> dict[str, object]:
    table = document.get(name) if isinstance(document, dict) else None
    if not isinstance(table, dict):
        raise RepositoryError(f"{uri}: not a root index: no {name!r} object")
    return table


def _upgrade_hint(document: object, uri: str) -> str:
    """Upstream's `formats.v0.upgrade_via`: a version whose packages can read the newer format."""
    formats = document.get("formats") if isinstance(document, dict) else None
    v0 = formats.get("v0") if isinstance(formats, dict) else None
    via = v0.get("upgrade_via") if isinstance(v0, dict) else None
    if not isinstance(via, str):
        return ""
    try:
        snapshot = _follow(document, RootIndex(via).version, uri)
    except RepositoryError:
        return ""
    meta = _table(document, "history", uri).get(snapshot)
    if not isinstance(meta, dict) or meta.get("format") not in READABLE_FORMATS:
        return ""  # no way through that this moss could take
    return f"; upgrade through {via} (snapshot {snapshot}) first"

"""The content-addressed store: where each file digest lives under `.moss/assets`.

Naming follows upstream exactly, so a store is shared with the real moss: the digest as
lowercase hex *without* zero padding, sharded by its first three byte pairs, or directly in
`v2/` when shorter than ten characters.
"""

from __future__ import annotations

ASSETS_VERSION = "v2"


def asset_name(digest: int) -> str:
    return f"{digest:x}"


def asset_relpath(digest: int) -> str:
    """The asset's path relative to `.moss/assets`."""
    name = asset_name(digest)
    if len(name) < 10:
        return f"{ASSETS_VERSION}/{name}"
    return f"{ASSETS_VERSION}/{name[0:2]}/{name[2:4]}/{name[4:6]}/{name}"

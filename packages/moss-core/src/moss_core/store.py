"""The content-addressed store: where each file digest lives under `.moss/assets`.

Naming follows upstream exactly, so a store is shared with the real moss: the digest as
lowercase hex *without* zero padding, sharded by its first three byte pairs, or directly in
`v2/` when shorter than ten characters.
"""

from __future__ import annotations

ASSETS_VERSION = "v2"
# Store files are shared by hard links with every state's tree, so they are never writable.
# They start readable by all and are only ever widened (to add execute bits), which lets the
# blit skip looking at a file whose entry wants no more than this.
ASSET_MODE = 0o444
# Present in a store that moss-core created: every file in it was made ASSET_MODE. A store
# written by something else (upstream moss) lacks it, and each file's mode is then checked.
READ_ONLY_MARKER = ".read-only-assets"


def asset_name(digest: int) -> str:
    return f"{digest:x}"


def asset_relpath(digest: int) -> str:
    """The asset's path relative to `.moss/assets`."""
    name = asset_name(digest)
    if len(name) < 10:
        return f"{ASSETS_VERSION}/{name}"
    return f"{ASSETS_VERSION}/{name[0:2]}/{name[2:4]}/{name[4:6]}/{name}"

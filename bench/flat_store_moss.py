"""moss with its store sharded one level deep (`<x[0:2]>/<x>`) instead of upstream's three
(`<x[0:2]>/<x[2:4]>/<x[4:6]>/<x>`): a what-if for `peers.py`, run as
`python flat_store_moss.py MOSS-ARGS...`. moss has no such mode: its store keeps upstream's
layout so that it can share a store with the real moss. This measures what that costs: with
three levels nearly every new asset needs a directory of its own.
"""

from __future__ import annotations

import sys

import moss_core.store as store


def _one_level(digest: int) -> str:
    name = store.asset_name(digest)
    if len(name) < 10:
        return f"{store.ASSETS_VERSION}/{name}"
    return f"{store.ASSETS_VERSION}/{name[0:2]}/{name}"


# Before anything imports the function by name.
store.asset_relpath = _one_level

from moss.cli import run  # noqa: E402

sys.argv[0] = "moss"
run()

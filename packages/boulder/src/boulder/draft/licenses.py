"""SPDX identifiers of the licences a source tree ships, matched by `licenseclassifier` (the
SPDX licence list and its templates, maintained upstream; no licence text lives here)."""

from __future__ import annotations

from dataclasses import dataclass

from licenseclassifier import identify_license

from boulder.draft.tree import SourceTree, is_license_file

# The text of a GNU licence does not say "only" or "or later": the notice in the sources does.
# Most recipes carry "-or-later", so a bare match is drafted that way and flagged.
_GNU_BARE = ("GPL-", "LGPL-", "AGPL-", "GFDL-")


@dataclass(frozen=True)
class Licenses:
    ids: tuple[str, ...]
    # Identifiers whose "-only"/"-or-later" variant was assumed.
    assumed: tuple[str, ...] = ()


def spdx_id(found: str) -> tuple[str, bool]:
    """The current SPDX id for a classifier result, and whether its variant was assumed."""
    if found.startswith(_GNU_BARE) and not found.endswith(("-only", "-or-later")):
        if found.endswith("+"):
            return f"{found[:-1]}-or-later", False
        return f"{found}-or-later", True
    return found, False


def detect_licenses(tree: SourceTree) -> Licenses:
    ids: set[str] = set()
    assumed: set[str] = set()
    for relative in sorted(tree.texts):
        if not is_license_file(relative):
            continue
        for match in identify_license(tree.texts[relative]):
            spdx, guessed = spdx_id(match.id)
            ids.add(spdx)
            if guessed:
                assumed.add(spdx)
    return Licenses(tuple(sorted(ids)), tuple(sorted(assumed)))

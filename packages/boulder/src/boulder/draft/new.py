"""`boulder recipe new`: fetch and unpack the sources, look at them, write the draft."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from boulder.draft.detect import builddeps, detect_system
from boulder.draft.fetch import Fetched, extract, fetch_source
from boulder.draft.licenses import Licenses, detect_licenses
from boulder.draft.metadata import Facts, file_name, from_project, from_uri, split_git
from boulder.draft.render import Draft, Source
from boulder.draft.tree import SourceTree, read_tree

PLACEHOLDER_VERSION = "0.0.0"
_NOT_NAME = re.compile(r"[^a-z0-9+._-]+")


def draft_recipe(uris: list[str], cache: Path) -> Draft:
    """Fetch every URI (into boulder's cache too), unpack them, draft from the first."""
    with tempfile.TemporaryDirectory(prefix="boulder-draft-") as scratch:
        workdir = Path(scratch)
        fetched = [fetch_source(uri, workdir, cache) for uri in uris]
        tree = read_tree(extract(fetched[0], workdir / "source"))
        return plan_draft(uris[0], fetched, tree)


def plan_draft(first_uri: str, fetched: list[Fetched], tree: SourceTree) -> Draft:
    """The draft for sources already fetched, `tree` being the first one's."""
    facts = from_uri(first_uri).fill(from_project(tree))
    licenses = detect_licenses(tree)
    system = detect_system(tree)
    name = _name(facts, first_uri)
    version = _version(facts.version)
    return Draft(
        name=name or "unnamed",
        version=version or PLACEHOLDER_VERSION,
        homepage=facts.homepage or "UPDATE HOMEPAGE",
        upstreams=tuple(Source(f.uri, f.hash) for f in fetched),
        licenses=licenses.ids,
        system=system,
        builddeps=builddeps(tree),
        undecided=undecided(facts, version, licenses, system is not None),
    )


def _name(facts: Facts, uri: str) -> str | None:
    raw = facts.name or file_name(split_git(uri)[0]).split(".", 1)[0]
    name = _NOT_NAME.sub("-", raw.lower()).strip("-.")
    return name or None


def _version(version: str | None) -> str | None:
    if version is None:
        return None
    version = version.removeprefix("v")
    return version if version[:1].isascii() and version[:1].isdigit() else None


def undecided(
    facts: Facts, version: str | None, licenses: Licenses, detected: bool
) -> tuple[str, ...]:
    notes = ["summary and description"]
    if facts.name is None:
        notes.append("name: taken from the file name, neither the URI nor the project says")
    if version is None:
        notes.append(f"version: not found, {PLACEHOLDER_VERSION} stands in")
    if facts.homepage is None:
        notes.append("homepage: not found")
    elif facts.homepage_guessed:
        notes.append("homepage: the download directory, not the project's page")
    if not licenses.ids:
        notes.append("license: no licence file recognised")
    notes += [
        f"license: {spdx} assumed: a licence text does not say -only or -or-later, notices do"
        for spdx in licenses.assumed
    ]
    if not detected:
        notes.append("build steps: no build system recognised, autotools' steps stand in")
    notes.append("builddeps: only what the build files declare; check against a real build")
    notes.append("monitoring.yaml: the release-monitoring id and the CPE")
    return tuple(notes)

"""A transaction that fails says no success and leaves no database rows behind."""

from __future__ import annotations

from pathlib import Path

from moss_roots import db_view, tree_listing

from moss_core.db import LayoutDb, MetaDb

from .helpers import MossRun, make_stone, name_missing_content


def _recorded_ids(root: Path) -> tuple[set[str], set[str]]:
    """The package ids in the install database and in the layout database."""
    with (
        MetaDb.open(root / ".moss/db/install") as install_db,
        LayoutDb.open(root / ".moss/db/layout") as layout_db,
    ):
        return install_db.ids(), layout_db.ids()


def test_layout_naming_content_the_package_lacks_is_refused(
    root: Path, packages: Path, moss: MossRun
) -> None:
    assert moss("install", str(make_stone(packages, "a"))).code == 0
    before = _recorded_ids(root), tree_listing(root / "usr"), db_view(root)
    b = make_stone(packages, "b", {"share/b/one": b"1", "share/b/two": b"2"})
    name_missing_content(b, "share/b/two", 0x3039)

    refused = moss("install", str(b))
    assert refused.code == 1
    assert refused.err == (
        "moss: error: b: its layout names /usr/share/b/two with content"
        f" {0x3039:032x}, which the package does not contain\n"
    )
    assert "Installed" not in refused.out and "is now active" not in refused.out
    assert (_recorded_ids(root), tree_listing(root / "usr"), db_view(root)) == before
    assert moss("state", "verify").out.strip().endswith("No issues found")


def test_a_conflict_found_after_unpacking_leaves_no_rows(
    root: Path, packages: Path, moss: MossRun
) -> None:
    assert moss("install", str(make_stone(packages, "a", {"share/x": b"a's"}))).code == 0
    before = _recorded_ids(root), tree_listing(root / "usr"), db_view(root)

    refused = moss("install", str(make_stone(packages, "c", {"share/x": b"c's"})))
    assert refused.code == 1 and "file conflicts" in refused.err, refused.text
    assert "Installed" not in refused.out
    assert (_recorded_ids(root), tree_listing(root / "usr"), db_view(root)) == before
    # Nothing half-recorded makes the package look cached: installed again, it unpacks again.
    assert moss("remove", "a").code == 0
    again = moss("install", str(make_stone(packages, "c", {"share/x": b"c's"})))
    assert again.code == 0 and "Installed c\n" in again.out, again.text
    assert (root / "usr/share/x").read_bytes() == b"c's"

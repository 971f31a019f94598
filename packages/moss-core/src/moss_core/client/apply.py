"""Making a state live: compose its `/usr`, run its triggers, swap it in, archive the old one.

The order is what makes a crash harmless. Everything before the exchange happens in staging.
Just before it, a journal records the new and old state ids; the exchange itself is one
`renameat2(RENAME_EXCHANGE)`, so the live `.stateID` tells `recover` which side of it a crash
fell on, and `recover` finishes or undoes the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from moss_core.blit import blit, probe_strategy
from moss_core.client.gc import remove_leftover_trees
from moss_core.client.report import Reporter
from moss_core.db import LayoutDb, Selection, State, StateDb
from moss_core.errors import MossError
from moss_core.fs import (
    exchange,
    fsync_directory,
    is_empty_dir,
    remove_tree,
    replace_symlink,
    sync_filesystem,
    write_atomically,
)
from moss_core.installation import MODEL_IN_TREE, STATE_ID_FILE, Installation, read_state_id
from moss_core.processes import usable_cores
from moss_core.vfs import Tree, build_tree
from stone import LayoutEntry

RECYCLED_MARKER = "recycled"
"""In `.moss/root/<id>/`: that state's tree became a newer state's (`moss_core.client.recycle`);
activating the state blits its tree again."""

ROOT_LINKS = {
    "bin": "usr/bin",
    "sbin": "usr/sbin",
    "lib": "usr/lib",
    "lib64": "usr/lib",
    "lib32": "usr/lib32",
}


class TransactionError(MossError):
    """A state could not be made live; the live tree is as it was."""


def compose(
    layout_db: LayoutDb,
    package_ids: Sequence[str],
    recorded: Mapping[str, Sequence[LayoutEntry]] | None = None,
) -> Tree:
    """The state's tree, built in memory; every conflict is found before anything is written.

    `recorded`: layouts this process has just written to `layout_db`, in the order it wrote
    them, taken as they are instead of read back. They follow every other row in the database
    (moss holds the installation lock), so the entries come in the database's order.
    """
    recorded = recorded or {}
    rows = layout_db.query([pid for pid in package_ids if pid not in recorded])
    wanted = set(package_ids)
    rows += [(pid, entry) for pid, layout in recorded.items() if pid in wanted for entry in layout]
    return build_tree(rows)


def blit_staging(installation: Installation, tree: Tree, reporter: Reporter) -> Path:
    """Write the tree into a fresh `staging/usr`, hard-linked from the store.

    A blit that fails (a full disk, no inodes left) removes what it wrote: a half-built tree
    must not hold the space or inodes a smaller transaction needs until the next run.
    """
    staging_usr = installation.staging_dir / "usr"
    remove_tree(staging_usr)
    installation.staging_dir.mkdir(parents=True, exist_ok=True)
    os.mkdir(staging_usr, 0o755)
    try:
        assets_fd = os.open(installation.assets_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            target_fd = os.open(staging_usr, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                advance = reporter.progress("Blitting", len(tree))
                strategy = probe_strategy(assets_fd, target_fd)
                stats = blit(
                    tree,
                    assets_fd,
                    target_fd,
                    strategy=strategy,
                    progress=advance,
                    workers=usable_cores(),
                )
                reporter.done()
            finally:
                os.close(target_fd)
        finally:
            os.close(assets_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            remove_tree(staging_usr)
        raise
    reporter.info(stats.summary())
    return staging_usr


def write_state_files(usr: Path, state_id: int | None, model_text: str) -> None:
    """`.stateID`, `lib/os-release` (unless a package ships one) and the state's model."""
    lib = usr / "lib"
    lib.mkdir(exist_ok=True)
    if state_id is not None:
        (usr / STATE_ID_FILE).write_text(f"{state_id}\n")
    os_release = lib / "os-release"
    if not os.path.lexists(os_release):
        os_release.write_text(
            'NAME="Unbranded OS"\nID=unbranded\nPRETTY_NAME="Unbranded OS"\n'
            f'ANSI_COLOR="1;35"\nHOME_URL=""\nBUILD_ID={platform.machine()}\n'
        )
    model = usr / MODEL_IN_TREE
    if os.path.lexists(model):
        model.unlink()
    model.write_text(model_text)


def make_root_links(root: Path) -> None:
    for name, target in ROOT_LINKS.items():
        link = root / name
        if os.path.lexists(link) and not os.path.islink(link):
            continue
        replace_symlink(link, target)
    (root / "etc").mkdir(exist_ok=True)


@dataclass(frozen=True)
class Journal:
    """What an exchange in flight is doing, written (durably) before the live tree changes."""

    kind: str  # "transaction" or "activation"
    new: int
    old: int | None

    @staticmethod
    def path(installation: Installation) -> Path:
        return installation.trees_dir / "exchange.json"

    def write(self, installation: Installation) -> None:
        text = json.dumps({"kind": self.kind, "new": self.new, "old": self.old})
        write_atomically(self.path(installation), text)

    @classmethod
    def read(cls, installation: Installation) -> Journal | None:
        try:
            data = json.loads(cls.path(installation).read_text())
            return cls(
                str(data["kind"]),
                int(data["new"]),
                None if data["old"] is None else int(data["old"]),
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as err:
            raise TransactionError(f"{cls.path(installation)}: unreadable ({err})") from None

    @classmethod
    def clear(cls, installation: Installation) -> None:
        with contextlib.suppress(FileNotFoundError):
            cls.path(installation).unlink()
        fsync_directory(installation.trees_dir)


def check_replaceable(installation: Installation) -> int | None:
    """The live state id; refuses a non-empty `usr` that moss does not manage."""
    live = installation.usr
    if not live.exists():
        live.mkdir(mode=0o755)
    previous = read_state_id(live)
    if previous is None and not is_empty_dir(live):
        raise TransactionError(
            f"{live} holds files but no {STATE_ID_FILE}: it is not managed by moss;"
            " refusing to replace it"
        )
    return previous


def promote(installation: Installation, staging_usr: Path, journal: Journal) -> None:
    """Swap `staging/usr` with the live `usr`, then archive the old tree under its state id.

    The journal must already be written: it is what lets `recover` finish or undo this.
    """
    sync_filesystem(staging_usr)
    exchange(staging_usr, installation.usr)
    fsync_directory(installation.root)
    archive_staging(installation, journal.old)
    make_root_links(installation.root)
    Journal.clear(installation)


def archive_staging(installation: Installation, previous: int | None) -> None:
    """Move the tree in staging to `previous`'s archive, or drop it when it belongs to no state."""
    staging_usr = installation.staging_dir / "usr"
    if not os.path.lexists(staging_usr):
        return
    if previous is None:
        remove_tree(staging_usr)
        return
    archive = installation.archived_state_dir(previous)
    archive.mkdir(parents=True, exist_ok=True)
    remove_tree(archive / "usr")
    os.rename(staging_usr, archive / "usr")
    fsync_directory(archive)
    fsync_directory(installation.staging_dir)


def record_state(state_db: StateDb, selections: Sequence[Selection], summary: str) -> State:
    return state_db.add(selections, summary=summary, created=int(time.time()))


def recover(installation: Installation, state_db: StateDb, reporter: Reporter) -> None:
    """Finish or undo what an interrupted run left, so the root is wholly in one state.

    With a journal, the live `.stateID` says whether the exchange happened: if it did, the old
    tree in staging is archived; if not, a transaction's new tree and state row are dropped and
    an activation's tree goes back to its archive. Without one, staging holds at most a
    half-built tree, which is removed, as are the trees of removed states an interrupted prune
    left. Finally a state row whose tree is neither live nor archived nor recycled (a run
    stopped between recording it and its journal, or a prune stopped before removing its rows)
    is removed.
    """
    active = installation.active_state_id()
    staging_usr = installation.staging_dir / "usr"
    journal = Journal.read(installation)
    if journal is not None:
        if active == journal.new:
            archive_staging(installation, journal.old)
            make_root_links(installation.root)
            reporter.warn(f"finished the interrupted switch to state #{journal.new}")
        elif journal.kind == "activation":
            if os.path.lexists(staging_usr) and not installation.archived_usr(journal.new).exists():
                archive_staging(installation, journal.new)
            reporter.warn(f"undid the interrupted activation of state #{journal.new}")
        else:
            remove_tree(staging_usr)
            state_db.remove([journal.new])
            reporter.warn(f"undid the interrupted transaction to state #{journal.new}")
        Journal.clear(installation)
    elif os.path.lexists(staging_usr):
        remove_tree(staging_usr)
    remove_leftover_trees(installation)
    if active is not None:
        # The live state has its tree again (an activation stopped before saying so).
        live_archive = installation.archived_state_dir(active)
        (live_archive / RECYCLED_MARKER).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            live_archive.rmdir()
    if active is None and installation.usr.exists() and not is_empty_dir(installation.usr):
        return
    for state_id in state_db.ids():
        if (
            state_id != active
            and not installation.archived_usr(state_id).exists()
            and not (installation.archived_state_dir(state_id) / RECYCLED_MARKER).exists()
        ):
            state_db.remove([state_id])
            reporter.warn(
                f"removed state #{state_id}: an interrupted transaction never made it live"
            )

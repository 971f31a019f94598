"""What differs between two states' trees at a set of paths (pure: no I/O).

A transaction that changes a few packages changes the tree only at their paths and their
ancestors (`changed_paths`). `diff_nodes` compares the two trees' nodes there and says what a
tree already on disk for the old state needs to become the new one: what to remove, which
directories get a new mode or owner, and what to write. The nodes may come from trees
composed from a subset of the layout rows (the rows at those paths), as long as the nodes at
those paths are the ones the full trees would have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from moss_core.vfs import TOP, Node
from stone import FileKind

Lookup = Callable[[str], Node | None]


def changed_paths(layout_paths: Iterable[str]) -> set[str]:
    """The absolute paths of these layout paths, and all their ancestors up to `/usr`."""
    found = {TOP}
    for path in layout_paths:
        full = f"{TOP}/{path}"
        while full not in found:
            found.add(full)
            full = full[: full.rfind("/")]
    return found


def same_on_disk(a: Node, b: Node) -> bool:
    """Whether the entry written for `a` is the one `b` wants (whichever package ships it)."""
    return (
        a.kind is b.kind
        and a.mode == b.mode
        and a.uid == b.uid
        and a.gid == b.gid
        and a.digest == b.digest
        and a.link_target == b.link_target
    )


@dataclass(frozen=True)
class TreeDiff:
    """How to turn the old tree into the new one.

    `removed`: old entries to delete, whole subtrees (none lies beneath another), deepest
    first. `retuned`: directories in both whose mode or owner changes (the new nodes).
    `added`: new entries to write, whole subtrees (none lies beneath another), in path order.
    """

    removed: tuple[Node, ...] = ()
    retuned: tuple[Node, ...] = ()
    added: tuple[Node, ...] = ()

    def __len__(self) -> int:
        return len(self.removed) + len(self.retuned) + len(self.added)


def diff_nodes(old: Lookup, new: Lookup, paths: Iterable[str]) -> TreeDiff:
    """The difference between the trees `old` and `new` look paths up in, at `paths`.

    `paths` must hold every path where the trees may differ, with its ancestors. A directory
    that is written (or deleted) is written with (or deleted with) all its subtree.
    """
    removed: list[Node] = []
    retuned: list[Node] = []
    added: list[Node] = []
    directory = FileKind.DIRECTORY
    gone: set[str] = set()
    made: set[str] = set()
    for path in sorted(paths):
        if path == TOP:
            continue
        before, after = old(path), new(path)
        if before is not None and after is not None:
            if before.kind is directory and after.kind is directory:
                if (before.mode, before.uid, before.gid) != (after.mode, after.uid, after.gid):
                    retuned.append(after)
                continue
            if same_on_disk(before, after):
                continue
        parent = path[: path.rfind("/")]
        if before is not None:
            if parent not in gone:
                removed.append(before)
            gone.add(path)
        if after is not None:
            if parent not in made:
                added.append(after)
            made.add(path)
    removed.sort(key=lambda node: node.path.count("/"), reverse=True)
    return TreeDiff(tuple(removed), tuple(retuned), tuple(added))

"""The virtual filesystem: every selected package's layout merged into one tree (pure: no I/O).

`build_tree` takes the layout rows of every package of a state and returns the `/usr` tree the
blit writes, with implicit parent directories filled in and entries beneath a symlink to a
directory moved to that directory. Every path conflict is found before anything is written
and raised together as one `VfsConflictError`.
"""

from __future__ import annotations

import gc
import posixpath
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from moss_core.errors import MossError
from stone import FileKind, LayoutEntry, StoneError, is_safe_path, validate_path
from stone.layout import TYPE_BITS

TOP = "/usr"

# How many symlinks one link may lead through, and how many rounds of moving entries out of
# symlinked directories are made: the kernel's limit on symlinks in one path walk (ELOOP).
MAX_REDIRECTS = 40


if TYPE_CHECKING:
    from moss_core.triggers.model import FileKind as TriggerFileKind

IMPLICIT_MODE = stat.S_IFDIR | 0o755


class VfsError(MossError):
    """The layout rows cannot form a tree."""


class ConflictKind(Enum):
    """How two packages disagree about a path."""

    DIFFERENT_CONTENT = "different-content"
    """Two non-directories with different kind, digest, mode or link target."""

    DIRECTORY_AND_OTHER = "directory-and-other"
    """A directory in one package, a non-directory in the other."""

    BENEATH_NON_DIRECTORY = "beneath-non-directory"
    """An entry below a file, or below a symlink that does not lead to a directory of the tree."""


def _kind_word(kind: FileKind) -> str:
    return "file" if kind is FileKind.REGULAR else kind.text.replace("-", " ")


@dataclass(frozen=True)
class Conflict:
    """One disagreement, naming both packages.

    `package_ids` is (first, second) in row order for `DIFFERENT_CONTENT`; (directory's
    package, other package) for `DIRECTORY_AND_OTHER`; (entry's package, blocking entry's
    package) for `BENEATH_NON_DIRECTORY`, where `blocker` is the non-directory's path and
    `blocker_kind` its kind. `other_kind` is the second package's kind of entry at `path`.
    """

    path: str
    package_ids: tuple[str, str]
    kind: ConflictKind
    other_kind: FileKind | None = None
    blocker: str | None = None
    blocker_kind: FileKind | None = None

    def describe(self, first: str, second: str) -> str:
        """The conflict as one line, with the packages named `first` and `second`."""
        if self.kind is ConflictKind.DIFFERENT_CONTENT:
            return f"{self.path}: {first} and {second} both provide it"
        if self.kind is ConflictKind.DIRECTORY_AND_OTHER:
            other = _kind_word(self.other_kind or FileKind.REGULAR)
            return f"{self.path}: is a directory in {first} and a {other} in {second}"
        blocker = _kind_word(self.blocker_kind or FileKind.REGULAR)
        return f"{self.path}: in {first}, lies beneath {blocker} {self.blocker} of {second}"

    def __str__(self) -> str:
        return self.describe(*self.package_ids)


class VfsConflictError(VfsError):
    """Packages disagree about paths; `conflicts` lists every disagreement, sorted by path."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        self.conflicts = conflicts
        count = len(conflicts)
        lines = "\n".join(f"  {conflict}" for conflict in conflicts)
        super().__init__(f"{count} file conflict{'s' if count != 1 else ''}:\n{lines}")


@dataclass(frozen=True, slots=True)
class Node:
    """One entry of the final tree.

    `path` is absolute (`/usr/bin/nano`); `mode` is the full `st_mode`, type bits included.
    `package_id` is `""` for an implicit directory. `children` (directories only) are sorted
    by name, bytewise.
    """

    path: str
    name: str
    kind: FileKind
    mode: int
    uid: int
    gid: int
    digest: int | None
    link_target: str | None
    package_id: str
    children: tuple[Node, ...] = ()

    @property
    def permissions(self) -> int:
        return stat.S_IMODE(self.mode)


class Tree:
    """The merged `/usr` tree of one state; the top node is `/usr` itself."""

    __slots__ = ("_index", "_top")

    def __init__(self, top: Node, index: dict[str, Node]) -> None:
        self._top = top
        self._index = index

    @property
    def top(self) -> Node:
        return self._top

    def walk(self) -> Iterator[Node]:
        """Every node, pre-order from `/usr`: parents before children, siblings by name."""
        stack = [self._top]
        while stack:
            node = stack.pop()
            yield node
            if node.children:
                stack.extend(reversed(node.children))

    def paths(self) -> Iterator[tuple[str, FileKind]]:
        """`/` (the root `/usr` lives in) and then every node's path and kind, in walk order."""
        yield "/", FileKind.DIRECTORY
        for node in self.walk():
            yield node.path, node.kind

    def trigger_paths(self) -> dict[str, TriggerFileKind]:
        """The tree as `moss_core.triggers.plan_triggers` takes it.

        Includes `/`, like `moss_core.triggers.scan_tree`; devices, fifos and sockets count as
        regular files.
        """
        # Imported here: the trigger models need pydantic, which a read-only command never loads.
        from moss_core.triggers.model import FileKind as TriggerFileKind

        kinds = {
            FileKind.DIRECTORY: TriggerFileKind.DIRECTORY,
            FileKind.SYMLINK: TriggerFileKind.SYMLINK,
        }
        regular = TriggerFileKind.REGULAR
        return {path: kinds.get(kind, regular) for path, kind in self.paths()}

    def get(self, path: str) -> Node | None:
        return self._index.get(path)

    def __contains__(self, path: object) -> bool:
        return path in self._index

    def __len__(self) -> int:
        return len(self._index)


def _mode(entry: LayoutEntry) -> int:
    return TYPE_BITS[entry.kind] | stat.S_IMODE(entry.mode)


def _same_content(a: LayoutEntry, b: LayoutEntry) -> bool:
    if a.kind is not b.kind:
        return False
    if a.kind is FileKind.SYMLINK:
        return a.link_target == b.link_target
    return a.digest == b.digest and _mode(a) == _mode(b)


def _refuse(package_id: str, entry: LayoutEntry) -> VfsError:
    try:
        validate_path(entry.path)
    except StoneError as err:
        return VfsError(f"package {package_id}: {err}")
    what = (
        "regular file has no digest" if entry.kind is FileKind.REGULAR else "symlink has no target"
    )
    return VfsError(f"package {package_id}: {entry.path!r}: {what}")


def _parent(path: str) -> str:
    return path[: path.rfind("/")]


def _ancestors(paths: Iterable[str]) -> set[str]:
    """Every proper ancestor directory of `paths`, from `/usr` down."""
    found = {TOP}
    for parent in {path[: path.rfind("/")] for path in paths}:
        while parent not in found:
            found.add(parent)
            parent = parent[: parent.rfind("/")]
    return found


def _lexical_target(link_path: str, text: str) -> str:
    joined = text if text.startswith("/") else f"{_parent(link_path)}/{text}"
    # normpath keeps a leading "//" (POSIX leaves it implementation-defined; Linux does not).
    return "/" + posixpath.normpath(joined).lstrip("/")


def _links(paths: list[str], entries: list[LayoutEntry]) -> dict[str, str]:
    links: dict[str, str] = {}
    for path, entry in zip(paths, entries, strict=True):
        if entry.kind is FileKind.SYMLINK and entry.link_target:
            links.setdefault(path, entry.link_target)
    return links


def _redirects(
    paths: list[str], entries: list[LayoutEntry], links: dict[str, str]
) -> dict[str, str]:
    """Symlinks with entries beneath them whose target is a directory of the tree -> target."""
    below = _ancestors(paths)
    candidates = sorted(link for link in links if link in below)
    if not candidates:
        return {}
    explicit_dirs: set[str] = set()
    others: set[str] = set()
    for path, entry in zip(paths, entries, strict=True):
        (explicit_dirs if entry.kind is FileKind.DIRECTORY else others).add(path)

    redirects: dict[str, str] = {}
    for link in candidates:
        target = _lexical_target(link, links[link])
        seen = {link}
        # A link to a link to a directory leads there too.
        while target in links and target not in seen and len(seen) <= MAX_REDIRECTS:
            seen.add(target)
            target = _lexical_target(target, links[target])
        is_directory = target in explicit_dirs or (target in below and target not in others)
        inside = target == TOP or target.startswith(TOP + "/")
        if is_directory and inside and not target.startswith(link + "/"):
            redirects[link] = target
    return redirects


def _rewrite(paths: list[str], redirects: dict[str, str]) -> list[str]:
    """`paths` with every redirected symlink among their ancestors replaced by its target."""
    resolved: dict[str, str] = {TOP: TOP}
    resolving: set[str] = set()

    def resolve(directory: str) -> str:
        done = resolved.get(directory)
        if done is not None:
            return done
        if directory in resolving:
            # A loop of symlinked directories: leave the path where it is, the beneath-check
            # then reports it.
            return directory
        resolving.add(directory)
        head, _, name = directory.rpartition("/")
        result = f"{resolve(head)}/{name}"
        target = redirects.get(result)
        if target is not None:
            result = resolve(target)
        resolving.discard(directory)
        resolved[directory] = result
        return result

    out = []
    for path in paths:
        head, _, name = path.rpartition("/")
        out.append(f"{resolve(head)}/{name}")
    return out


def _follow_symlinked_dirs(paths: list[str], entries: list[LayoutEntry]) -> list[str]:
    links = _links(paths, entries)
    for _ in range(MAX_REDIRECTS):
        redirects = _redirects(paths, entries, links) if links else {}
        if not redirects:
            break
        # Moving entries can put them beneath another symlink (one that itself lay beneath a
        # symlinked directory), so look again until nothing moves.
        paths = _rewrite(paths, redirects)
        links = _links(paths, entries)
    return paths


def build_tree(rows: Iterable[tuple[str, LayoutEntry]]) -> Tree:
    """Merge the layout rows of every package of a state into one tree.

    `rows` are `(package_id, entry)` in a stable order (the layout DB's row order): it decides
    which package's mode and owner a directory shipped by several packages gets (the last)
    and which of identical duplicates is kept (the first). Entries beneath a symlink whose
    target is a directory of the tree are moved beneath that directory. Raises
    `VfsConflictError` listing every conflict, and `VfsError` for an entry with an unsafe path,
    a regular file without digest or a symlink without target.
    """
    package_ids: list[str] = []
    entries: list[LayoutEntry] = []
    paths: list[str] = []
    regular, symlink = FileKind.REGULAR, FileKind.SYMLINK
    for package_id, entry in rows:
        path = entry.path
        kind = entry.kind
        if (
            not is_safe_path(path)
            or (kind is regular and entry.digest is None)
            or (kind is symlink and not entry.link_target)
        ):
            raise _refuse(package_id, entry)
        package_ids.append(package_id)
        entries.append(entry)
        paths.append(f"{TOP}/{path}")

    paths = _follow_symlinked_dirs(paths, entries)
    merged, conflicts = _merge(paths, package_ids, entries)
    children, beneath = _link_parents(merged, package_ids, entries)
    conflicts.extend(beneath)
    if conflicts:
        conflicts.sort(key=lambda c: (c.path, c.kind.value, c.package_ids))
        raise VfsConflictError(conflicts)
    # Hundreds of thousands of new nodes, none of them garbage: the cyclic collector would
    # only rescan them over and over (a third of the build time on a full system).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _freeze(merged, children, package_ids, entries)
    finally:
        if collecting:
            gc.enable()


def _merge(
    paths: list[str], package_ids: list[str], entries: list[LayoutEntry]
) -> tuple[dict[str, int], list[Conflict]]:
    """Each path -> the row that provides it; and the conflicts found on the way."""
    merged: dict[str, int] = {}
    conflicts: list[Conflict] = []
    directory = FileKind.DIRECTORY
    for row, path in enumerate(paths):
        held = merged.setdefault(path, row)
        if held == row:
            continue
        old, new = entries[held], entries[row]
        if old.kind is directory and new.kind is directory:
            merged[path] = row
        elif old.kind is directory or new.kind is directory:
            dir_row, other_row = (held, row) if old.kind is directory else (row, held)
            conflicts.append(
                Conflict(
                    path,
                    (package_ids[dir_row], package_ids[other_row]),
                    ConflictKind.DIRECTORY_AND_OTHER,
                    other_kind=entries[other_row].kind,
                )
            )
            # Keep the directory so that entries beneath it are not reported a second time.
            merged[path] = dir_row
        elif not _same_content(old, new):
            conflicts.append(
                Conflict(
                    path,
                    (package_ids[held], package_ids[row]),
                    ConflictKind.DIFFERENT_CONTENT,
                    other_kind=new.kind,
                )
            )
    return merged, conflicts


def _link_parents(
    merged: dict[str, int], package_ids: list[str], entries: list[LayoutEntry]
) -> tuple[dict[str, list[str]], list[Conflict]]:
    """Each directory -> its children's paths, implicit directories included; and the entries
    that lie beneath a non-directory."""
    children: dict[str, list[str]] = {}
    for path in merged:
        parent = path[: path.rfind("/")]
        below = children.get(parent)
        if below is None:
            children[parent] = [path]
        else:
            below.append(path)

    # directory path -> the topmost non-directory among it and its ancestors, or "" if none
    blocked: dict[str, str] = {TOP: ""}
    directory = FileKind.DIRECTORY

    def blocker(path: str) -> str:
        found = blocked.get(path)
        if found is not None:
            return found
        parent = path[: path.rfind("/")]
        found = blocker(parent)
        row = merged.get(path)
        if row is None:
            if not found:
                children.setdefault(parent, []).append(path)
        elif not found and entries[row].kind is not directory:
            found = path
        blocked[path] = found
        return found

    conflicts = []
    for parent in list(children):
        found = blocker(parent)
        if not found:
            continue
        holder = entries[merged[found]]
        for path in children[parent]:
            row = merged[path]
            conflicts.append(
                Conflict(
                    path,
                    (package_ids[row], package_ids[merged[found]]),
                    ConflictKind.BENEATH_NON_DIRECTORY,
                    other_kind=entries[row].kind,
                    blocker=found,
                    blocker_kind=holder.kind,
                )
            )
    return children, conflicts


def _freeze(
    merged: dict[str, int],
    children: dict[str, list[str]],
    package_ids: list[str],
    entries: list[LayoutEntry],
) -> Tree:
    index: dict[str, Node] = {}
    type_bits = TYPE_BITS
    directory = FileKind.DIRECTORY

    def freeze(path: str) -> Node:
        below = children.get(path)
        kids: tuple[Node, ...] = ()
        if below is not None:
            below.sort()
            kids = tuple(map(freeze, below))
        name = path[path.rfind("/") + 1 :]
        row = merged.get(path)
        if row is None:
            node = Node(path, name, directory, IMPLICIT_MODE, 0, 0, None, None, "", kids)
        else:
            e = entries[row]
            node = Node(
                path,
                name,
                e.kind,
                type_bits[e.kind] | (e.mode & 0o7777),
                e.uid,
                e.gid,
                e.digest,
                e.link_target,
                package_ids[row],
                kids,
            )
        index[path] = node
        return node

    return Tree(freeze(TOP), index)

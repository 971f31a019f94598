"""Write a VFS tree to disk from the content store.

Every operation is relative to an open directory fd (`mkdirat`, `linkat`, `symlinkat`,
`openat` with `O_NOFOLLOW`): no path is resolved twice and no symlink in the target or the
store can send a write elsewhere. Regular files are hard links to (or reflinks/copies of) the
store's files, which are kept read-only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import resource
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum

from moss_core.errors import MossError
from moss_core.processes import ForkedTaskError, Report, run_forked
from moss_core.store import ASSET_MODE, READ_ONLY_MARKER, asset_name, asset_relpath
from moss_core.vfs import TOP, Node, Tree
from moss_core.vfs_diff import Lookup, TreeDiff
from stone import FileKind

EMPTY_DIGEST = 0x99AA06D3014798D86001C324468D497F
"""XXH3-128 of no bytes: such a file is always created fresh, never linked to the store."""

FICLONE = 0x40049409
"""`_IOW(0x94, 9, int)`: make the destination file share the source's extents."""

# Files in the target (and store files, which hard links share) never carry write bits.
_READ_ONLY = 0o7777 & ~0o222
_SPECIAL = 0o7000
_BEYOND_STORE = _READ_ONLY & ~ASSET_MODE
_OWNER_ALL = 0o700
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SOURCE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_FALLBACK = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL})
PROGRESS_EVERY = 4096
STRATEGY_VARIABLE = "MOSS_FSTREE_NATIVE_STRATEGY"


class BlitError(MossError):
    """The tree could not be written; names the path that failed."""


class Strategy(Enum):
    """How a regular file of the tree is made from its store file."""

    REFLINK = "reflink"
    """A new inode sharing the store file's extents (`FICLONE`)."""
    HARDLINK = "hardlink"
    """A second name for the store file's inode."""
    COPY = "copy"
    """A new inode with the bytes copied (store and target on different filesystems)."""


@dataclass(frozen=True)
class BlitStats:
    """How many entries (directories, files, symlinks) were written, and how long it took."""

    entries: int
    seconds: float

    @property
    def rate(self) -> float:
        """Entries per second."""
        return self.entries / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (
            f"{self.entries} entries blitted in {self.seconds:.2f}s ({self.rate / 1000:.1f}k / s)"
        )


def probe_strategy(
    assets_fd: int, target_fd: int, *, environ: Mapping[str, str] = os.environ
) -> Strategy:
    """The best strategy between the store (`assets_fd`) and the target directory.

    `MOSS_FSTREE_NATIVE_STRATEGY` (`reflink`, `hardlink` or `copy`) in `environ` decides if
    set. Otherwise: reflink if `FICLONE` works, else hard link unless linking fails with `EXDEV`
    (different filesystems), which means copy. If the probe itself cannot run, hard link.
    """
    forced = environ.get(STRATEGY_VARIABLE)
    if forced:
        try:
            return Strategy(forced)
        except ValueError:
            choices = ", ".join(strategy.value for strategy in Strategy)
            raise BlitError(f"{STRATEGY_VARIABLE}={forced}: expected one of {choices}") from None
    name = f".link-test-{os.getpid()}"
    try:
        source = os.open(
            name,
            os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
            dir_fd=assets_fd,
        )
    except OSError:
        return Strategy.HARDLINK
    try:
        if _can_reflink(source, name, target_fd):
            return Strategy.REFLINK
        try:
            os.link(name, name, src_dir_fd=assets_fd, dst_dir_fd=target_fd, follow_symlinks=False)
        except OSError as err:
            return Strategy.COPY if err.errno == errno.EXDEV else Strategy.HARDLINK
        os.unlink(name, dir_fd=target_fd)
        return Strategy.HARDLINK
    finally:
        os.close(source)
        os.unlink(name, dir_fd=assets_fd)


def _can_reflink(source: int, name: str, target_fd: int) -> bool:
    try:
        clone = os.open(name, _CREATE_FLAGS, 0o644, dir_fd=target_fd)
    except OSError:
        return False
    try:
        fcntl.ioctl(clone, FICLONE, source)
    except OSError:
        return False
    else:
        return True
    finally:
        os.close(clone)
        os.unlink(name, dir_fd=target_fd)


def blit(
    tree: Tree,
    assets_fd: int,
    target_fd: int,
    *,
    strategy: Strategy = Strategy.HARDLINK,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
) -> BlitStats:
    """Write `tree` into the empty directory `target_fd`, which stands for `/usr`.

    `assets_fd` is the store (`.moss/assets`). `progress`, if given, is called every few
    thousand entries and once at the end with the number written since its previous call
    (an advance, as progress bars take it); the advances add up to `BlitStats.entries`.
    Device, fifo and socket entries are skipped. Raises `BlitError` naming the failing path;
    what was written until then stays. A large tree is written by `workers` processes at once
    (`moss_core.processes.run_forked`), each taking whole subtrees.
    """
    _raise_fd_limit()
    start = time.perf_counter()
    umask = os.umask(0)  # modes below are exact; a umask would silently narrow directories
    try:
        writer = _Writer(assets_fd, strategy, progress)
        if workers > 1 and len(tree) >= PARALLEL_MIN_ENTRIES:
            count = writer.write_parallel(tree, target_fd, workers)
        else:
            count = writer.write(tree.top, target_fd)
    finally:
        os.umask(umask)
    return BlitStats(entries=count, seconds=time.perf_counter() - start)


def update(
    diff: TreeDiff,
    new: Lookup,
    assets_fd: int,
    target_fd: int,
    *,
    strategy: Strategy = Strategy.HARDLINK,
) -> BlitStats:
    """Turn the tree in `target_fd` (`/usr`), written for the old tree of `diff`, into the new
    one (whose nodes `new` looks up): delete what went, write what came, re-mode directories.

    Paths are walked from `target_fd` one directory at a time with `O_NOFOLLOW`, as `blit`
    writes. Raises `BlitError` naming the path that failed.
    """
    start = time.perf_counter()
    umask = os.umask(0)
    fds: dict[str, int] = {TOP: target_fd}
    unlocked: dict[str, int] = {}
    node: Node | None = None

    def directory(path: str) -> int:
        fd = fds.get(path)
        if fd is None:
            head, _, name = path.rpartition("/")
            fd = fds[path] = os.open(name, _DIR_FLAGS, dir_fd=directory(head))
        return fd

    def writable(path: str) -> int:
        # A directory a package made read-only takes new entries only once it is writable.
        fd = directory(path)
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & _OWNER_ALL != _OWNER_ALL and path not in unlocked:
            unlocked[path] = mode
            os.fchmod(fd, mode | _OWNER_ALL)
        return fd

    count = 0
    try:
        for node in diff.removed:
            parent_fd = writable(_parent_path(node))
            if node.kind is FileKind.DIRECTORY:
                _remove_subtree(node.name, parent_fd)
            else:
                # moss's own files (the state's model) may have gone before the update.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(node.name, dir_fd=parent_fd)
            count += 1
        writer = _Writer(assets_fd, strategy, None)
        by_parent: dict[str, list[Node]] = {}
        for node in diff.added:
            by_parent.setdefault(_parent_path(node), []).append(node)
        for path, nodes in by_parent.items():
            parent = new(path)
            if parent is None:
                raise BlitError(f"cannot write {nodes[0].path}: its directory is not in the tree")
            fd = writable(path)
            count += writer._walk([(fd, iter(nodes), parent)], frozenset(fds.values()))
        for path, mode in unlocked.items():
            os.fchmod(fds[path], mode)
        for node in diff.retuned:
            fd = directory(node.path)
            os.fchmod(fd, node.mode & 0o7777)
            if writer.as_root:
                os.fchown(fd, node.uid, node.gid)
            count += 1
    except OSError as err:
        where = node.path if node is not None else TOP
        raise BlitError(f"cannot write {where}: {err.strerror or err}") from err
    finally:
        os.umask(umask)
        for path, fd in fds.items():
            if path != TOP:
                os.close(fd)
    return BlitStats(entries=count, seconds=time.perf_counter() - start)


def _remove_subtree(name: str, parent_fd: int) -> None:
    """Delete a directory and all it holds, read-only directories included, without
    following a symlink."""
    fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    try:
        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) | _OWNER_ALL)
        for entry in os.scandir(fd):
            if entry.is_dir(follow_symlinks=False):
                _remove_subtree(entry.name, fd)
            else:
                os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


def _raise_fd_limit() -> None:
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (OSError, ValueError):
        pass  # only a precaution: the walk holds one fd per level of depth


Frame = tuple[int, Iterator[Node], Node]
"""A directory being written: its open fd, its children still to write, its node."""


class _Writer:
    def __init__(
        self, assets_fd: int, strategy: Strategy, progress: Callable[[int], None] | None
    ) -> None:
        self.assets_fd = assets_fd
        self.strategy = strategy
        self.progress = progress
        self.as_root = os.geteuid() == 0
        # digest -> the store file's permission bits once known, to stat each asset only once
        self.asset_modes: dict[int, int] = {}
        try:
            os.stat(READ_ONLY_MARKER, dir_fd=assets_fd, follow_symlinks=False)
            self.read_only_store = True
        except FileNotFoundError:
            self.read_only_store = False

    def write(self, top: Node, target_fd: int) -> int:
        count = 1 + self._walk([(target_fd, iter(top.children), top)], frozenset({target_fd}))
        self._advance(1)
        os.fchmod(target_fd, top.mode & 0o7777)
        return count

    def write_parallel(self, tree: Tree, target_fd: int, workers: int) -> int:
        """Make the directories near the top here, then write everything below them in
        `workers` forked processes at once, each given whole subtrees."""
        if self.strategy is Strategy.HARDLINK:
            # Store files shared by several entries are widened here, once, so that no two
            # workers race to change one file's mode (in a read-only store, only files that
            # want more than it gives can need it).
            every = not self.read_only_store
            for node in tree.walk():
                if (
                    node.kind is FileKind.REGULAR
                    and (every or node.mode & _BEYOND_STORE)
                    and node.digest != EMPTY_DIGEST
                ):
                    self._settle_mode(node, *self._asset(node))
        top = tree.top
        made, shares = plan_split(top, workers)
        fds = {top.path: target_fd}
        node = top
        try:
            for node in made:
                fds[node.path] = self._make_directory(node, fds[_parent_path(node)])
            directories = {node.path: node for node in (top, *made)}
            tasks = [self._share_task(share, fds, directories) for share in shares]
            count = 1 + len(made) + run_forked(tasks, self.progress)
        except OSError as err:
            raise BlitError(f"cannot write {node.path}: {err.strerror or err}") from err
        except ForkedTaskError as err:
            raise BlitError(str(err)) from None
        finally:
            for node in reversed(made):
                fd = fds.pop(node.path, -1)
                if fd >= 0:
                    _finish_directory(node, fd)
                    os.close(fd)
        self._advance(1 + len(made))
        os.fchmod(target_fd, top.mode & 0o7777)
        return count

    def _share_task(
        self, share: list[Node], fds: dict[str, int], directories: dict[str, Node]
    ) -> Callable[[Report], int]:
        by_parent: dict[str, list[Node]] = {}
        for node in share:
            by_parent.setdefault(_parent_path(node), []).append(node)

        def task(report: Report) -> int:
            # In the forked child: this writer is the child's own copy.
            self.progress = report
            frames: list[Frame] = [
                (fds[path], iter(nodes), directories[path]) for path, nodes in by_parent.items()
            ]
            return self._walk(frames, frozenset(fds.values()))

        return task

    def _advance(self, count: int) -> None:
        if self.progress is not None and count:
            self.progress(count)

    def _make_directory(self, node: Node, parent_fd: int) -> int:
        # Children need an owner-writable directory until they are in place.
        os.mkdir(node.name, (node.mode & 0o7777) | _OWNER_ALL, dir_fd=parent_fd)
        fd = os.open(node.name, _DIR_FLAGS, dir_fd=parent_fd)
        if self.as_root and (node.uid or node.gid):
            os.fchown(fd, node.uid, node.gid)
        return fd

    def _walk(self, stack: list[Frame], kept: frozenset[int]) -> int:
        """Write what the frames of `stack` have pending, depth first, and return how many
        entries that was. The directories of `kept` stay open and unfinished, for the caller."""
        # Bound once: the loop below runs per entry and attribute lookups add up.
        close, symlink = os.close, os.symlink
        directory, regular, symlink_kind = FileKind.DIRECTORY, FileKind.REGULAR, FileKind.SYMLINK
        hardlink = self.strategy is Strategy.HARDLINK
        link_file, make_file, make_directory = (
            self._link_file,
            self._make_file,
            self._make_directory,
        )
        as_root, progress = self.as_root, self.progress
        empty = EMPTY_DIGEST

        count = reported = 0
        node = stack[-1][2]
        try:
            while stack:
                fd, pending, parent = stack[-1]
                for node in pending:
                    kind = node.kind
                    if kind is regular:
                        if hardlink and node.digest != empty:
                            link_file(node, fd)
                        else:
                            make_file(node, fd)
                    elif kind is directory:
                        stack.append((make_directory(node, fd), iter(node.children), node))
                        count += 1
                        break
                    elif kind is symlink_kind:
                        symlink(node.link_target or "", node.name, dir_fd=fd)
                        if as_root and (node.uid or node.gid):
                            os.chown(
                                node.name, node.uid, node.gid, dir_fd=fd, follow_symlinks=False
                            )
                    else:
                        continue
                    count += 1
                    if progress is not None and count >= reported + PROGRESS_EVERY:
                        progress(count - reported)
                        reported = count
                else:
                    node = parent
                    stack.pop()
                    if fd not in kept:
                        _finish_directory(parent, fd)
                        close(fd)
        except OSError as err:
            raise BlitError(f"cannot write {node.path}: {err.strerror or err}") from err
        finally:
            # Left non-empty only by a failure.
            for fd, _, _ in stack:
                if fd not in kept:
                    close(fd)
        self._advance(count - reported)
        return count

    def _asset(self, node: Node) -> tuple[int, str]:
        digest = node.digest
        if digest is None:
            raise BlitError(f"cannot write {node.path}: regular file without digest")
        return digest, asset_relpath(digest)

    def _missing(self, node: Node, digest: int) -> BlitError:
        return BlitError(
            f"cannot write {node.path}: asset {asset_name(digest)} is missing from the store"
        )

    def _link_file(self, node: Node, fd: int) -> None:
        digest, relpath = self._asset(node)
        self._settle_mode(node, digest, relpath)
        try:
            os.link(
                relpath, node.name, src_dir_fd=self.assets_fd, dst_dir_fd=fd, follow_symlinks=False
            )
        except FileNotFoundError:
            raise self._missing(node, digest) from None
        except OSError as err:
            # ext4 allows 65,000 links to one inode; every kept state adds one per entry.
            if err.errno != errno.EMLINK:
                raise
            self._make_file(node, fd)

    def _settle_mode(self, node: Node, digest: int, relpath: str) -> None:
        """Widen the store file's mode to what the entry wants (all links share it)."""
        wanted = node.mode & _READ_ONLY
        current = self.asset_modes.get(digest)
        if current is None and self.read_only_store and not wanted & ~ASSET_MODE:
            # Store files are created ASSET_MODE and only widened: nothing to check or change.
            current = wanted
        elif current is None:
            try:
                info = os.stat(relpath, dir_fd=self.assets_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise self._missing(node, digest) from None
            if not stat.S_ISREG(info.st_mode):
                raise BlitError(
                    f"cannot write {node.path}: asset {asset_name(digest)} is not a regular file"
                )
            current = info.st_mode & 0o7777
        # All links share the inode: modes may only widen, or another entry would lose a bit.
        shared = (current | wanted) & _READ_ONLY
        if shared != current:
            asset = os.open(relpath, _SOURCE_FLAGS, dir_fd=self.assets_fd)
            try:
                os.fchmod(asset, shared)
            finally:
                os.close(asset)
        self.asset_modes[digest] = shared

    def _make_file(self, node: Node, fd: int) -> None:
        """A new inode: empty, or a reflink or copy of the store file."""
        mode = node.mode & _READ_ONLY
        source = -1
        digest = node.digest
        if digest != EMPTY_DIGEST:
            digest, relpath = self._asset(node)
            try:
                source = os.open(relpath, _SOURCE_FLAGS, dir_fd=self.assets_fd)
            except FileNotFoundError:
                raise self._missing(node, digest) from None
        try:
            target = os.open(node.name, _CREATE_FLAGS, mode, dir_fd=fd)
            try:
                if source >= 0:
                    if self.strategy is Strategy.REFLINK:
                        fcntl.ioctl(target, FICLONE, source)
                    else:
                        _copy(source, target)
                if self.as_root and (node.uid or node.gid):
                    os.fchown(target, node.uid, node.gid)
                if mode & _SPECIAL:
                    # open() may drop setuid/setgid and chown() clears them: set them last.
                    os.fchmod(target, mode)
            finally:
                os.close(target)
        finally:
            if source >= 0:
                os.close(source)


PARALLEL_MIN_ENTRIES = 20_000
"""Below this many entries a tree is written in this process: forking costs more."""
_SHARES_PER_WORKER = 4


def plan_split(top: Node, workers: int) -> tuple[list[Node], list[list[Node]]]:
    """How to write the tree below `top` in `workers` processes: the directories to make first
    (parents before children), and for each worker the entries it writes whole (files,
    symlinks, and directories with all they hold), of about equal total size.

    Directories are opened up, largest first, until no share to hand out is larger than a
    fraction of the whole."""
    sizes = _directory_sizes(top)
    limit = max(1, sizes[top.path] // (workers * _SHARES_PER_WORKER))
    made: list[Node] = []
    units = list(top.children)
    while True:
        largest = max((u for u in units if u.children), key=lambda u: sizes[u.path], default=None)
        if largest is None or sizes[largest.path] <= limit:
            break
        units.remove(largest)
        made.append(largest)
        units += largest.children
    shares: list[list[Node]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for unit in sorted(units, key=lambda u: sizes.get(u.path, 1), reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(unit)
        loads[lightest] += sizes.get(unit.path, 1)
    return made, [share for share in shares if share]


def _directory_sizes(top: Node) -> dict[str, int]:
    """The number of entries in each non-empty directory's subtree, itself included."""
    sizes: dict[str, int] = {}
    stack: list[tuple[Node, bool]] = [(top, False)]
    while stack:
        node, visited = stack.pop()
        if visited:
            sizes[node.path] = 1 + sum(sizes.get(child.path, 1) for child in node.children)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children if child.children)
    return sizes


def _parent_path(node: Node) -> str:
    return node.path.rpartition("/")[0]


def _finish_directory(node: Node, fd: int) -> None:
    """Give a directory whose children are in place its own mode, where the one it was made
    with (owner-writable, no special bits) differs."""
    mode = node.mode & 0o7777
    if mode & _SPECIAL or mode & _OWNER_ALL != _OWNER_ALL:
        os.fchmod(fd, mode)


def _copy(source: int, target: int) -> None:
    remaining = os.fstat(source).st_size
    try:
        while remaining > 0:
            done = os.copy_file_range(source, target, remaining)
            if done == 0:
                return
            remaining -= done
    except OSError as err:
        if err.errno not in _COPY_FALLBACK:
            raise
    # Older kernels cannot copy_file_range across filesystems; sendfile continues from the
    # offsets the partial copy left behind.
    while remaining > 0:
        done = os.sendfile(target, source, None, remaining)
        if done == 0:
            return
        remaining -= done

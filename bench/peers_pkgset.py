"""The package set of `peers.py`: real trees of this machine split into about 200 packages and
packaged three ways, as `.stone` files with a `stone.index`, as pacman `.pkg.tar.zst` archives
and as one ostree commit.

The trees are the running interpreter's standard library (its `__pycache__` included,
`site-packages` left out) as `usr/lib/pythonX.Y`, and `/usr/share` as `usr/share`. They are
copied once into the scratch directory (a snapshot: nothing of the system is linked or changed),
then the sorted list of paths is cut into contiguous runs of about equal file counts, so a
package holds one or a few neighbouring directories, as real packages do. Each package is staged
as its own directory of hard links to the snapshot and packed from there.

Left out: names that are not UTF-8 (stone refuses them), special files, and `usr/share/libalpm`
and `usr/share/moss` (hooks and triggers that pacman or moss would run in the benchmark root).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = 200
# One zstd level for both formats, so they hold the same compressed data. Not stone's own 18 by
# default: at 18 packing 800 MB takes over 5 minutes per format on a 2-core machine, and zstd
# decompresses at about the same speed whatever the level (`PEERS_ZSTD_LEVEL=18` to check).
ZSTD_LEVEL = int(os.environ.get("PEERS_ZSTD_LEVEL", "3"))
PACMAN_ZSTD = ["zstd", "-q", "-c", "-T0", f"-{ZSTD_LEVEL}"]
# bsdtar translates names to and from UTF-8 only in a UTF-8 locale.
UTF8 = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
EXCLUDED = ("usr/share/libalpm", "usr/share/moss")


@dataclass
class PackageSet:
    """Where each form of the set lives, and what it holds."""

    tree: Path  # the snapshot: tree/usr/...
    stone_repo: Path  # *.stone and stone.index
    pacman_dir: Path  # *.pkg.tar.zst
    ostree_repo: Path  # a bare repository
    commit: str  # the ostree commit of the whole tree
    names: list[str] = field(default_factory=list)
    files: int = 0
    symlinks: int = 0
    directories: int = 0
    bytes: int = 0
    skipped: int = 0
    build_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def pacman_files(self) -> list[Path]:
        return [self.pacman_dir / f"{name}-1-1-x86_64.pkg.tar.zst" for name in self.names]


def sources() -> list[tuple[Path, str]]:
    """(directory on this machine, where it goes in the package set)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return [(stdlib, f"usr/lib/{version}"), (Path("/usr/share"), "usr/share")]


def _ignore_stdlib(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in ("site-packages", "dist-packages")]


def _snapshot(tree: Path) -> int:
    """Copy the sources into `tree`; returns how many entries were left out."""
    skipped = 0
    for source, target in sources():
        destination = tree / target
        destination.parent.mkdir(parents=True, exist_ok=True)
        ignore = _ignore_stdlib if target.startswith("usr/lib") else None
        shutil.copytree(source, destination, symlinks=True, ignore=ignore)
    for excluded in EXCLUDED:
        shutil.rmtree(tree / excluded, ignore_errors=True)
    for directory, dirs, names in os.walk(tree):
        for name in dirs + names:
            path = os.path.join(directory, name)
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                skipped += 1
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
                continue
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode) or stat.S_ISDIR(mode)):
                skipped += 1
                os.unlink(path)
    return skipped


def _leaves(tree: Path) -> Iterator[str]:
    """Files, symlinks and empty directories below `tree`, relative, sorted."""
    for directory, dirs, names in os.walk(tree):
        dirs.sort()
        relative = os.path.relpath(directory, tree)
        if not dirs and not names:
            yield relative
        for name in sorted(names):
            yield os.path.join(relative, name)
        # Symlinks to directories are listed in `dirs` by os.walk but not followed.
        for name in list(dirs):
            if os.path.islink(os.path.join(directory, name)):
                dirs.remove(name)
                yield os.path.join(relative, name)


def _stage(tree: Path, staging: Path, paths: list[str]) -> None:
    """A package's own directory: hard links to the snapshot's files, symlinks re-made."""
    for relative in paths:
        source, target = tree / relative, staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        info = os.lstat(source)
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(source), target)
        elif stat.S_ISDIR(info.st_mode):
            target.mkdir(mode=stat.S_IMODE(info.st_mode))
        else:
            os.link(source, target)
    for directory, _, _ in os.walk(staging):
        source = tree / os.path.relpath(directory, staging)
        if source.is_dir() and directory != str(staging):
            info = os.stat(source)
            os.chmod(directory, stat.S_IMODE(info.st_mode))
            os.utime(directory, ns=(info.st_atime_ns, info.st_mtime_ns))


def _write_stone(staging: str, name: str, out_dir: str) -> None:
    import stone.writer
    from stone import Meta, scan_tree, write_binary

    stone.writer.ZSTD_LEVEL = ZSTD_LEVEL

    scanned = scan_tree(Path(staging) / "usr")
    meta = Meta(
        name=name,
        version="1",
        release=1,
        build_release=1,
        architecture="x86_64",
        summary=f"{name}: part of the peers benchmark set",
        description="Real files of this machine, for benchmarks.",
        homepage="https://example.invalid/peers",
        licenses=("MIT",),
    )
    with open(Path(out_dir) / meta.filename, "wb") as out:
        write_binary(out, meta, scanned.layout, scanned.blobs)


def _write_pacman(staging: str, name: str, out_dir: str) -> None:
    """A package as makepkg lays it out: `.PKGINFO`, a gzipped `.MTREE`, then the files."""
    root = Path(staging)
    size = sum(
        os.lstat(os.path.join(d, n)).st_size for d, _, names in os.walk(root / "usr") for n in names
    )
    (root / ".PKGINFO").write_text(
        "\n".join(
            [
                "# peers benchmark",
                f"pkgname = {name}",
                f"pkgbase = {name}",
                "pkgver = 1-1",
                f"pkgdesc = {name}: part of the peers benchmark set",
                "url = https://example.invalid/peers",
                f"builddate = {int(time.time())}",
                "packager = peers benchmark",
                f"size = {size}",
                "arch = x86_64",
                "license = MIT",
                "",
            ]
        )
    )
    # The keywords pacman's own packages carry in .MTREE (pacman -Qk reads them; -U takes the
    # file list from it instead of reading the archive twice).
    keywords = "!all,use-set,type,uid,gid,mode,time,size,md5,sha256,link"
    subprocess.run(
        ["bsdtar", "-czf", ".MTREE", "--format=mtree", f"--options={keywords}", ".PKGINFO", "usr"],
        cwd=root,
        env=UTF8,
        check=True,
    )
    target = Path(out_dir) / f"{name}-1-1-x86_64.pkg.tar.zst"
    with open(target, "wb") as out:
        tar = subprocess.Popen(
            ["bsdtar", "-cf", "-", "--uid", "0", "--gid", "0", ".PKGINFO", ".MTREE", "usr"],
            cwd=root,
            env=UTF8,
            stdout=subprocess.PIPE,
        )
        subprocess.run(PACMAN_ZSTD, stdin=tar.stdout, stdout=out, check=True)
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError(f"bsdtar failed for {name}")


def build(scratch: Path, packages: int = PACKAGES, log: bool = True) -> PackageSet:
    """Snapshot the trees into `scratch` and package them three ways."""

    def say(text: str) -> None:
        if log:
            print(f"  [peers] {text}", file=sys.stderr, flush=True)

    tree = scratch / "tree"
    pset = PackageSet(
        tree=tree,
        stone_repo=scratch / "stone-repo",
        pacman_dir=scratch / "pacman-pkgs",
        ostree_repo=scratch / "ostree-repo",
        commit="",
    )
    started = time.perf_counter()
    pset.skipped = _snapshot(tree)
    leaves = list(_leaves(tree))
    for relative in leaves:
        mode = os.lstat(tree / relative).st_mode
        if stat.S_ISREG(mode):
            pset.files += 1
            pset.bytes += os.lstat(tree / relative).st_size
        elif stat.S_ISLNK(mode):
            pset.symlinks += 1
    pset.directories = sum(len(dirs) for _, dirs, _ in os.walk(tree))
    pset.build_seconds["snapshot"] = time.perf_counter() - started
    say(
        f"snapshot: {pset.files} files, {pset.symlinks} symlinks, {pset.directories} "
        f"directories, {pset.bytes / 1e6:.0f} MB ({pset.build_seconds['snapshot']:.0f}s)"
    )

    staging = scratch / "staging"
    pset.names = [f"peer{number:03d}" for number in range(packages)]
    for number, name in enumerate(pset.names):
        chunk = leaves[number * len(leaves) // packages : (number + 1) * len(leaves) // packages]
        _stage(tree, staging / name, chunk)

    for directory in (pset.stone_repo, pset.pacman_dir):
        directory.mkdir()
    for kind, writer, out_dir in (
        ("stone", _write_stone, pset.stone_repo),
        ("pacman", _write_pacman, pset.pacman_dir),
    ):
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
            jobs = [
                pool.submit(writer, str(staging / name), name, str(out_dir)) for name in pset.names
            ]
            for job in jobs:
                job.result()
        pset.build_seconds[kind] = time.perf_counter() - started
        say(f"{kind} packages written ({pset.build_seconds[kind]:.0f}s)")

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "moss", "index", str(pset.stone_repo)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    pset.build_seconds["moss_index"] = time.perf_counter() - started
    shutil.rmtree(staging)

    started = time.perf_counter()
    ostree = ["ostree", f"--repo={pset.ostree_repo}"]
    subprocess.run([*ostree, "init", "--mode=bare"], check=True)
    result = subprocess.run(
        [*ostree, "commit", "--branch=peers", "--subject=peers benchmark", f"--tree=dir={tree}"],
        check=True,
        capture_output=True,
        text=True,
    )
    pset.commit = result.stdout.strip()
    pset.build_seconds["ostree_commit"] = time.perf_counter() - started
    say(f"ostree commit {pset.commit[:12]} ({pset.build_seconds['ostree_commit']:.0f}s)")
    return pset

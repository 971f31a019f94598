"""What a state offers to boot: its kernels (image, initrds, command-line snippets), its OS
identity and the systemd-boot binary, read from the state's tree (`R/usr` for the active state,
`R/.moss/root/<id>/usr` for an archived one).

Which files are kernel files comes from the state's layout (the packages' records), as upstream
does; the bytes come from the tree. A file the layout names but the tree lacks makes that one
kernel unbootable (a warning), never the whole sync (upstream H13).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from moss_core.boot.errors import BootInputError

KERNEL_DIR = "usr/lib/kernel"
VENDOR_CMDLINE_DIR = "usr/lib/kernel/cmdline.d"
ETC_CMDLINE_DIR = "etc/kernel/cmdline.d"
LOADER_SOURCE = "usr/lib/systemd/boot/efi/systemd-bootx64.efi"
# `lib/kernel/<version>/<file>`: one level below the version directory, as upstream's glob.
_KERNEL_FILE = re.compile(r"^usr/lib/kernel/([^/]+)/([^/]+)$")
_DIGEST_CHUNK = 1 << 20

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Asset:
    """A file to copy to the boot partition, known by its bytes' SHA-256."""

    source: Path
    name: str
    digest: str
    size: int


@dataclass(frozen=True)
class Kernel:
    version: str
    image: Asset
    initrds: tuple[Asset, ...]
    cmdline: tuple[str, ...]


@dataclass(frozen=True)
class OsIdentity:
    id: str
    display: str
    former_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class BootState:
    """One state as the planner sees it."""

    id: int
    identity: OsIdentity
    kernels: tuple[Kernel, ...]
    vendor_cmdline: tuple[str, ...]


@dataclass(frozen=True)
class EtcCmdline:
    """The administrator's snippets (`/etc/kernel/cmdline.d/*.cmdline`) and the vendor
    snippet names they mask (a `*.cmdline` symlink to `/dev/null`)."""

    snippets: tuple[str, ...] = ()
    masks: frozenset[str] = frozenset()


def parse_snippet(text: str) -> str:
    """A snippet's arguments on one line: `#` lines and blank lines go, one space between."""
    lines = (line.strip() for line in text.splitlines())
    return " ".join(line for line in lines if line and not line.startswith("#"))


def open_in_tree(sysroot: Path, path: Path) -> io.BufferedReader:
    """Open a regular file of a state's tree, only if it resolves inside that tree: packages
    are untrusted, and a `vmlinuz -> /etc/shadow` must not land on the ESP, which is FAT and
    readable by anyone."""
    real = os.path.realpath(path)
    top = os.path.realpath(sysroot)
    if os.path.commonpath([real, top]) != top:
        raise OSError(errno.EXDEV, "resolves outside its state's tree", str(path))
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return io.BufferedReader(io.FileIO(fd, "rb"))


def _read_tree_text(sysroot: Path, path: Path) -> str:
    with open_in_tree(sysroot, path) as source:
        return source.read().decode("utf-8")


def kernel_paths_in_tree(sysroot: Path) -> list[str]:
    """The kernel candidates of a tree without a layout (what a layout would list)."""
    base = sysroot / KERNEL_DIR
    found: list[str] = []
    try:
        versions = sorted(os.scandir(base), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for version in versions:
        if version.is_dir(follow_symlinks=False):
            found.extend(
                f"{KERNEL_DIR}/{version.name}/{name}" for name in sorted(os.listdir(version.path))
            )
    return found


def read_identity(sysroot: Path) -> OsIdentity:
    """`usr/lib/os-info.json` if present, else `usr/lib/os-release`."""
    info = sysroot / "usr/lib/os-info.json"
    if info.is_file():
        return _identity_from_os_info(sysroot, info)
    release = sysroot / "usr/lib/os-release"
    try:
        text = _read_tree_text(sysroot, release)
    except FileNotFoundError:
        raise BootInputError(f"{release}: missing (and no {info}): no OS identity") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BootInputError(f"{release}: unreadable: {err}") from None
    fields = parse_os_release(text)
    if not fields.get("ID"):
        raise BootInputError(f"{release}: no ID")
    display = fields.get("PRETTY_NAME") or fields.get("NAME")
    if not display:
        raise BootInputError(f"{release}: no NAME")
    return OsIdentity(fields["ID"], display)


def parse_os_release(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip().strip("'\"")
    return fields


def _identity_from_os_info(sysroot: Path, path: Path) -> OsIdentity:
    try:
        document = json.loads(_read_tree_text(sysroot, path))
        identity = document["metadata"]["identity"]
        former = tuple(str(f["id"]) for f in identity.get("former_identities", []))
        return OsIdentity(str(identity["id"]), str(identity["display"]), former)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise BootInputError(f"{path}: unreadable: {err}") from None
    except (KeyError, TypeError, AttributeError):
        raise BootInputError(f"{path}: no metadata.identity id and display") from None


def read_etc_cmdline(root: Path, warn: Warn) -> EtcCmdline:
    """Only `*.cmdline`, sorted by name (upstream: any order, H16)."""
    directory = root / ETC_CMDLINE_DIR
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".cmdline"))
    except (FileNotFoundError, NotADirectoryError):
        return EtcCmdline()
    snippets: list[str] = []
    masks: set[str] = set()
    for name in names:
        path = directory / name
        if path.is_symlink() and os.readlink(path) == "/dev/null":
            masks.add(name)
            continue
        text = _read_snippet(path, warn)
        if text:
            snippets.append(text)
    return EtcCmdline(tuple(snippets), frozenset(masks))


def _read_snippet(path: Path, warn: Warn, sysroot: Path | None = None) -> str:
    """A snippet; one from a state's tree (`sysroot`) only if it stays inside that tree."""
    try:
        if sysroot is None:
            return parse_snippet(path.read_text(encoding="utf-8"))
        return parse_snippet(_read_tree_text(sysroot, path))
    except (OSError, UnicodeDecodeError) as err:
        warn(f"{path}: skipped, unreadable: {getattr(err, 'strerror', None) or err}")
        return ""


def _snippets(
    sysroot: Path, paths: Iterable[Path], masks: frozenset[str], warn: Warn
) -> tuple[str, ...]:
    texts = (
        _read_snippet(p, warn, sysroot)
        for p in sorted(paths, key=lambda p: p.name)
        if p.name not in masks
    )
    return tuple(t for t in texts if t)


def read_state(
    state_id: int,
    sysroot: Path,
    candidates: Iterable[str],
    masks: frozenset[str],
    warn: Warn,
    fallback_identity: OsIdentity,
) -> BootState:
    """The kernels of one state. `candidates` are its layout's paths below `usr/` (as
    `usr/lib/kernel/<version>/<file>`); the bytes are read from `sysroot`."""
    try:
        identity = read_identity(sysroot)
    except BootInputError as err:
        warn(f"state {state_id}: {err}; using the running system's identity")
        identity = fallback_identity
    by_version: dict[str, list[str]] = {}
    for path in candidates:
        match = _KERNEL_FILE.match(path)
        if match:
            by_version.setdefault(match[1], []).append(match[2])
    kernels: list[Kernel] = []
    for version in sorted(by_version):
        names = by_version[version]
        if "vmlinuz" not in names:
            continue
        kernel = _read_kernel(state_id, sysroot, version, names, masks, warn)
        if kernel is not None:
            kernels.append(kernel)
    vendor_dir = sysroot / VENDOR_CMDLINE_DIR
    try:
        vendor_paths = [vendor_dir / n for n in os.listdir(vendor_dir) if n.endswith(".cmdline")]
    except (FileNotFoundError, NotADirectoryError):
        vendor_paths = []
    return BootState(
        state_id, identity, tuple(kernels), _snippets(sysroot, vendor_paths, masks, warn)
    )


def _read_kernel(
    state_id: int,
    sysroot: Path,
    version: str,
    names: list[str],
    masks: frozenset[str],
    warn: Warn,
) -> Kernel | None:
    directory = sysroot / KERNEL_DIR / version
    try:
        image = _asset(sysroot, directory / "vmlinuz")
        initrds = tuple(
            _asset(sysroot, directory / name)
            for name in sorted(names, key=str.lower)
            if name.endswith(".initrd")
        )
    except OSError as err:
        warn(
            f"state {state_id}: kernel {version} skipped: "
            f"{err.filename or directory}: {err.strerror}"
        )
        return None
    cmdline = _snippets(
        sysroot, (directory / n for n in names if n.endswith(".cmdline")), masks, warn
    )
    return Kernel(version, image, initrds, cmdline)


def _asset(sysroot: Path, path: Path) -> Asset:
    with open_in_tree(sysroot, path) as source:
        digest = hashlib.file_digest(source, "sha256").hexdigest()
        size = os.fstat(source.fileno()).st_size
    return Asset(Path(os.path.realpath(path)), path.name, digest, size)


def read_loader(sysroot: Path) -> Asset | None:
    """The systemd-boot binary the state ships, if any."""
    try:
        return _asset(sysroot, sysroot / LOADER_SOURCE)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise BootInputError(f"{sysroot / LOADER_SOURCE}: {err.strerror}") from None

"""From states to what the boot partitions must hold: pure, so every rule is tested on data.

The plan says, in the order they must happen: the stale entries and the assets no remaining
entry uses (deleted first, so a full ESP makes room: H7), the assets to copy (named by content,
never overwritten: H4), the entries to write, loader.conf's `default` (the active state's newest
kernel: H3), then the entry the old default named and what only it used. Only what moss wrote
is ever deleted: entries named `<os id>-<version>-<state>.conf` whose options say
`moss.fstx=<state>`, the files those reference, and content-named files in moss's directories
that nothing references (H6).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from moss_core.boot.config import DEFAULT_WINDOW
from moss_core.boot.errors import BootError
from moss_core.boot.inputs import Asset, BootState, EtcCmdline, Kernel, OsIdentity
from moss_core.boot.loader import parse_loader_conf, version_compare

ENTRIES_DIR = "loader/entries"
LOADER_CONF = "loader/loader.conf"
LOADER_TARGETS = ("EFI/systemd/systemd-bootx64.efi", "EFI/Boot/BOOTX64.EFI")
HASH_CHARS = 12
# Boot Loader Specification entry names; every one of these characters is also valid on FAT.
_NAME = re.compile(r"^[A-Za-z0-9+_-][A-Za-z0-9+._-]*$")
_OWNED_ASSET = re.compile(rf"-[0-9a-f]{{{HASH_CHARS}}}(\.[^/]*)?$|\.\.TmpWrite$")
TEMP_SUFFIX = ".moss-tmp"
_FSTX = re.compile(r"(?:^|\s)moss\.fstx=(\d+)(?:\s|$)")


class Part(StrEnum):
    ESP = "esp"
    XBOOTLDR = "xbootldr"


@dataclass(frozen=True)
class Listing:
    """What a partition holds: its files with their sizes and its directories, as relative
    `/`-joined paths spelled as on disk."""

    files: Mapping[str, int] = field(default_factory=dict)
    dirs: frozenset[str] = frozenset()

    def spelling(self) -> dict[str, str]:
        found = {path.lower(): path for path in self.dirs}
        found.update((path.lower(), path) for path in self.files)
        return found


@dataclass(frozen=True)
class Existing:
    """What the shell read off the partitions before planning."""

    esp: Listing
    xbootldr: Listing | None = None
    entries: Mapping[str, str] = field(default_factory=dict)
    loader_conf: str | None = None
    loader_digests: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    states: Sequence[BootState]
    active: int
    root_cmdline: str
    identity: OsIdentity
    etc: EtcCmdline = field(default_factory=EtcCmdline)
    loader: Asset | None = None
    window: int = DEFAULT_WINDOW


@dataclass(frozen=True)
class CopyFile:
    part: Part
    path: str
    asset: Asset


@dataclass(frozen=True)
class WriteText:
    part: Part
    path: str
    text: str


@dataclass(frozen=True)
class Remove:
    """Delete a file, or (path ending in `/`) a directory if it is empty."""

    part: Part
    path: str


@dataclass(frozen=True)
class PlannedEntry:
    name: str
    state_id: int
    version: str
    title: str
    linux: str
    initrds: tuple[str, ...]
    options: str
    text: str


@dataclass(frozen=True)
class BootPlan:
    boot_part: Part
    entries: tuple[PlannedEntry, ...]
    default: str | None
    removals: tuple[Remove, ...]
    copies: tuple[CopyFile, ...]
    writes: tuple[WriteText, ...]
    loader_conf: WriteText | None
    late_removals: tuple[Remove, ...]
    warnings: tuple[str, ...]

    @property
    def changes(self) -> bool:
        return bool(
            self.removals or self.copies or self.writes or self.loader_conf or self.late_removals
        )


def valid_name(text: str) -> bool:
    return bool(_NAME.match(text)) and not text.endswith(".")


def entry_name(os_id: str, version: str, state_id: int) -> str:
    return f"{os_id}-{version}-{state_id}.conf"


def asset_name(asset: Asset) -> str:
    """`vmlinuz` → `vmlinuz-<hash>`, `50-default.initrd` → `50-default-<hash>.initrd`."""
    stem, dot, suffix = asset.name.rpartition(".")
    if not dot or not stem:
        return f"{asset.name}-{asset.digest[:HASH_CHARS]}"
    return f"{stem}-{asset.digest[:HASH_CHARS]}.{suffix}"


def window_ids(ids: Iterable[int], active: int, window: int) -> list[int]:
    """The active state, then the `window` highest other ids (H14: an activation of an older
    state keeps the newer states' entries; upstream keeps only older ones)."""
    others = sorted((i for i in set(ids) if i != active), reverse=True)[:window]
    return [active, *others]


def compose_options(root_cmdline: str, state: BootState, kernel: Kernel, etc: EtcCmdline) -> str:
    """root, `rw`, the kernel's and the vendor's snippets, `moss.fstx`, then /etc's, so the
    administrator has the last word (upstream puts /etc before the vendor: H16)."""
    parts = [
        root_cmdline,
        "rw",
        *kernel.cmdline,
        *state.vendor_cmdline,
        f"moss.fstx={state.id}",
        *etc.snippets,
    ]
    return " ".join(" ".join(parts).split())


def _one_line(text: str) -> str:
    """A package's display name on one line: a newline in it would add keys to the entry."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def entry_text(title: str, linux: str, initrds: Iterable[str], options: str) -> str:
    lines = [f"title {title}", f"linux /{linux}", ""]
    lines.extend(f"initrd /{path}" for path in initrds)
    lines.append(f"options {options}")
    return "\n".join(lines) + "\n"


def parse_entry(text: str) -> dict[str, list[str]]:
    """An entry's keys and their values (repeatable keys keep every value, in order)."""
    keys: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        keys.setdefault(parts[0], []).append(parts[1].strip() if len(parts) > 1 else "")
    return keys


def owned_entry_state(name: str, text: str, namespaces: Iterable[str]) -> int | None:
    """The state an entry file belongs to, if moss wrote it; None for anyone else's."""
    lowered = name.lower()
    for namespace in namespaces:
        match = re.match(rf"^{re.escape(namespace.lower())}-.+-(\d+)\.conf$", lowered)
        if match is None:
            continue
        options = " ".join(parse_entry(text).get("options", []))
        fstx = _FSTX.search(options)
        if fstx is not None and fstx[1] == match[1]:
            return int(match[1])
    return None


def entry_references(text: str) -> set[str]:
    """The files an entry points at, lowercased and relative to its partition."""
    keys = parse_entry(text)
    paths = [*keys.get("linux", []), *keys.get("initrd", []), *keys.get("efi", [])]
    return {p.strip().lstrip("/").lower() for p in paths if p.strip()}


def _spell(spelling: Mapping[str, str], path: str) -> str:
    """`path` as it is spelled on disk where a prefix of it exists (FAT is case-insensitive:
    `EFI` reuses `efi`), as given below that."""
    parts = path.split("/")
    for cut in range(len(parts), 0, -1):
        existing = spelling.get("/".join(parts[:cut]).lower())
        if existing is not None:
            return "/".join([existing, *parts[cut:]])
    return path


def _loader_conf_text(current: str | None, default: str) -> str:
    """Only the `default` line changes; the user's other keys and comments stay (H2)."""
    lines = (current or "").splitlines()
    out: list[str] = []
    placed = False
    for line in lines:
        fields = line.split(None, 1)
        if fields and fields[0] == "default":
            if not placed:
                out.append(f"default {default}")
                placed = True
            continue
        out.append(line)
    if not placed:
        out.append(f"default {default}")
    return "\n".join(out) + "\n"


def plan_boot(request: Request, existing: Existing) -> BootPlan:
    if not request.root_cmdline.strip():
        raise BootError(
            "no root= for the boot entries: give one with `moss boot sync --root-cmdline`"
        )
    if not valid_name(request.identity.id):
        raise BootError(
            f"OS id {request.identity.id!r} is not a valid boot entry name "
            "(letters, digits and + - _ . only)"
        )
    boot_part = Part.XBOOTLDR if existing.xbootldr is not None else Part.ESP
    boot_listing = existing.xbootldr if existing.xbootldr is not None else existing.esp
    spelling = boot_listing.spelling()
    warnings: list[str] = []
    entries, assets = _plan_entries(request, spelling, warnings)
    default = _choose_default(request, entries, warnings)
    removals, late_removals = _plan_collection(request, existing, boot_part, entries, assets)

    boot_files = {p.lower() for p in boot_listing.files}
    copies = [
        CopyFile(boot_part, path, asset)
        for path, asset in assets.items()
        if path.lower() not in boot_files
    ]
    if request.loader is not None:
        esp_spelling = existing.esp.spelling()
        for target in LOADER_TARGETS:
            path = _spell(esp_spelling, target)
            if existing.loader_digests.get(path) != request.loader.digest:
                copies.append(CopyFile(Part.ESP, path, request.loader))
    writes = [
        WriteText(boot_part, path, entry.text)
        for path, entry in ((_spell(spelling, f"{ENTRIES_DIR}/{e.name}"), e) for e in entries)
        if existing.entries.get(path.rsplit("/", 1)[-1]) != entry.text
    ]
    loader_conf = None
    if default is not None:
        # systemd-boot matches `default` against lowercased entry ids.
        text = _loader_conf_text(existing.loader_conf, default.lower())
        if text != existing.loader_conf:
            loader_conf = WriteText(Part.ESP, _spell(existing.esp.spelling(), LOADER_CONF), text)
    return BootPlan(
        boot_part=boot_part,
        entries=tuple(entries),
        default=default,
        removals=tuple(removals),
        copies=tuple(copies),
        writes=tuple(writes),
        loader_conf=loader_conf,
        late_removals=tuple(late_removals),
        warnings=tuple(warnings),
    )


def _plan_entries(
    request: Request, spelling: Mapping[str, str], warnings: list[str]
) -> tuple[list[PlannedEntry], dict[str, Asset]]:
    """An entry per kernel of each kept state, and the files they need by path."""
    entries: list[PlannedEntry] = []
    assets: dict[str, Asset] = {}
    by_id = {s.id: s for s in request.states}
    for state in (
        by_id[i] for i in window_ids(by_id, request.active, request.window) if i in by_id
    ):
        os_id = state.identity.id
        if not valid_name(os_id):
            warnings.append(f"state {state.id}: OS id {os_id!r} is not a valid entry name")
            continue
        for kernel in state.kernels:
            names = (kernel.version, *(i.name for i in kernel.initrds))
            bad = [n for n in names if not valid_name(n)]
            if bad:
                warnings.append(
                    f"state {state.id}: kernel skipped: {bad[0]!r} is not a valid boot file name"
                )
                continue
            directory = f"EFI/{os_id}/{kernel.version}"
            files = (kernel.image, *kernel.initrds)
            paths = [_spell(spelling, f"{directory}/{asset_name(f)}") for f in files]
            assets.update(zip(paths, files, strict=True))
            title = f"{_one_line(state.identity.display)} ({kernel.version}, state {state.id})"
            options = compose_options(request.root_cmdline, state, kernel, request.etc)
            entries.append(
                PlannedEntry(
                    name=entry_name(os_id, kernel.version, state.id),
                    state_id=state.id,
                    version=kernel.version,
                    title=title,
                    linux=paths[0],
                    initrds=tuple(paths[1:]),
                    options=options,
                    text=entry_text(title, paths[0], paths[1:], options),
                )
            )
    return entries, assets


def _choose_default(
    request: Request, entries: Sequence[PlannedEntry], warnings: list[str]
) -> str | None:
    """The active state's entry for its newest kernel, in systemd-boot's version order (H3)."""
    newest: PlannedEntry | None = None
    for entry in entries:
        if entry.state_id == request.active and (
            newest is None or version_compare(entry.version, newest.version) > 0
        ):
            newest = entry
    if newest is None and any(s.kernels for s in request.states):
        warnings.append(
            f"state {request.active} has no bootable kernel: loader.conf's default is unchanged"
        )
    return newest.name if newest is not None else None


def _plan_collection(
    request: Request,
    existing: Existing,
    boot_part: Part,
    entries: Sequence[PlannedEntry],
    assets: Mapping[str, Asset],
) -> tuple[list[Remove], list[Remove]]:
    """What goes before the copies (leftover temporaries, stale entries, files only they
    used) and what goes last (the entry the old default names, what only it used, emptied
    version directories)."""
    listing = existing.xbootldr if existing.xbootldr is not None else existing.esp
    spelling = listing.spelling()
    namespaces = {request.identity.id, *request.identity.former_ids}
    namespaces.update(s.identity.id for s in request.states)
    wanted = {_spell(spelling, f"{ENTRIES_DIR}/{e.name}").lower() for e in entries}
    current_default = parse_loader_conf(existing.loader_conf or "").get("default", "").lower()
    stale: list[str] = []
    late: list[str] = []
    foreign_refs: set[str] = set()
    for name, text in existing.entries.items():
        path = _spell(spelling, f"{ENTRIES_DIR}/{name}")
        if owned_entry_state(name, text, namespaces) is None:
            foreign_refs |= entry_references(text)
        elif path.lower() not in wanted:
            (late if name.lower() == current_default else stale).append(path)
    kept_refs = {p.lower() for p in assets} | foreign_refs
    late_refs = set().union(*(entry_references(_text_of(existing, p)) for p in late))
    stale_refs = set().union(*(entry_references(_text_of(existing, p)) for p in stale))
    owned_dirs = tuple(f"efi/{ns.lower()}/" for ns in namespaces)

    def ours(path: str) -> bool:
        lowered = path.lower()
        return lowered.startswith(owned_dirs) and lowered.count("/") == 3

    files = {p.lower() for p in listing.files}
    orphans = {
        path.lower()
        for path in listing.files
        if ours(path)
        and _OWNED_ASSET.search(path.rsplit("/", 1)[-1])
        and not path.endswith(TEMP_SUFFIX)
    }
    early_assets = sorted(
        spelling[p]
        for p in (stale_refs | orphans) - kept_refs - late_refs
        if p in files and ours(p)
    )
    late_assets = sorted(spelling[p] for p in late_refs - kept_refs if p in files and ours(p))
    temps = [
        Remove(part, path)
        for part, partition in _partitions(existing)
        for path in sorted(partition.files)
        if path.endswith(TEMP_SUFFIX)
    ]
    removals = temps + [Remove(boot_part, p) for p in sorted(stale) + early_assets]
    late_removals = [Remove(boot_part, p) for p in late + late_assets]
    gone = {r.path.lower() for r in removals + late_removals}
    staying = files - gone | {p.lower() for p in assets}
    directories = {p.rsplit("/", 1)[0] for p in gone if ours(p)}
    directories.update(
        d.lower() for d in listing.dirs if d.lower().startswith(owned_dirs) and d.count("/") == 2
    )
    for directory in sorted(directories):
        if not any(p.startswith(directory + "/") for p in staying):
            late_removals.append(Remove(boot_part, spelling.get(directory, directory) + "/"))
    return removals, late_removals


def _text_of(existing: Existing, path: str) -> str:
    return existing.entries.get(path.rsplit("/", 1)[-1], "")


def _partitions(existing: Existing) -> list[tuple[Part, Listing]]:
    found = [(Part.ESP, existing.esp)]
    if existing.xbootldr is not None:
        found.append((Part.XBOOTLDR, existing.xbootldr))
    return found

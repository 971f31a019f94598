"""Bring the boot partitions in step with the states: read what is there, plan, check space,
then apply the plan in its order (deletions that make room, copies, entries, the default, the
last deletions)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from moss_core.boot.config import BootConfig
from moss_core.boot.errors import BootError
from moss_core.boot.fs import Backend
from moss_core.boot.inputs import (
    LOADER_SOURCE,
    BootState,
    read_etc_cmdline,
    read_identity,
    read_loader,
    read_state,
)
from moss_core.boot.plan import (
    ENTRIES_DIR,
    LOADER_CONF,
    LOADER_TARGETS,
    BootPlan,
    Existing,
    Part,
    Request,
    plan_boot,
)
from moss_core.boot.targets import Targets

Warn = Callable[[str], None]


@dataclass(frozen=True)
class StateTree:
    """A state that still has a tree: where it is, and its layout's kernel paths."""

    id: int
    sysroot: Path
    kernel_paths: tuple[str, ...]


def read_existing(targets: Targets) -> Existing:
    esp = targets.esp.listing()
    xbootldr = targets.xbootldr.listing() if targets.xbootldr is not None else None
    boot_backend = targets.xbootldr or targets.esp
    boot = xbootldr if xbootldr is not None else esp
    entries = {
        path.rsplit("/", 1)[1]: boot_backend.read_text(path)
        for path in boot.files
        if path.lower().startswith(ENTRIES_DIR + "/")
        and path.count("/") == 2
        and path.lower().endswith(".conf")
    }
    esp_spelling = esp.spelling()
    loader_conf_path = esp_spelling.get(LOADER_CONF)
    loader_conf = (
        targets.esp.read_text(loader_conf_path)
        if loader_conf_path is not None and loader_conf_path in esp.files
        else None
    )
    digests = {
        esp_spelling[t.lower()]: targets.esp.digest(esp_spelling[t.lower()])
        for t in LOADER_TARGETS
        if esp_spelling.get(t.lower()) in esp.files
    }
    return Existing(esp, xbootldr, entries, loader_conf, digests)


def build_request(
    root: Path,
    active: int,
    trees: Iterable[StateTree],
    root_cmdline: str,
    window: int,
    warn: Warn,
) -> Request:
    identity = read_identity(root)
    etc = read_etc_cmdline(root, warn)
    states: list[BootState] = [
        read_state(t.id, t.sysroot, t.kernel_paths, etc.masks, warn, identity) for t in trees
    ]
    return Request(
        states=states,
        active=active,
        root_cmdline=root_cmdline,
        identity=identity,
        etc=etc,
        loader=read_loader(root),
        window=window,
    )


def check_space(plan: BootPlan, targets: Targets, existing: Existing) -> None:
    """Refuse before touching anything when the copies cannot fit in the free space plus what
    the plan deletes before copying (upstream copies first and leaves a partial file: H7)."""
    for part, backend, listing in (
        (Part.ESP, targets.esp, existing.esp),
        (Part.XBOOTLDR, targets.xbootldr, existing.xbootldr),
    ):
        if backend is None or listing is None:
            continue
        needed = sum(backend.allocation(c.asset.size) for c in plan.copies if c.part is part)
        needed += sum(
            backend.allocation(len(w.text.encode()))
            for w in (*plan.writes, plan.loader_conf)
            if w is not None and w.part is part
        )
        if not needed:
            continue
        freed = sum(
            backend.allocation(listing.files.get(r.path, 0))
            for r in plan.removals
            if r.part is part and not r.path.endswith("/")
        )
        free = backend.free_bytes()
        if needed > free + freed:
            raise BootError(
                f"{backend.description}: not enough space for the boot files: "
                f"{needed} bytes needed, {free} free and {freed} to be freed; nothing changed"
            )


def apply_plan(plan: BootPlan, targets: Targets) -> None:
    def backend(part: Part) -> Backend:
        if part is Part.XBOOTLDR and targets.xbootldr is not None:
            return targets.xbootldr
        return targets.esp

    try:
        for removal in plan.removals:
            backend(removal.part).remove(removal.path)
        for copy in plan.copies:
            backend(copy.part).write_file(copy.path, copy.asset.source)
        for write in plan.writes:
            backend(write.part).write_text(write.path, write.text)
        if plan.loader_conf is not None:
            backend(plan.loader_conf.part).write_text(plan.loader_conf.path, plan.loader_conf.text)
        for removal in plan.late_removals:
            backend(removal.part).remove(removal.path)
    except OSError as err:
        raise BootError(f"{err.filename or 'boot partition'}: {err.strerror}") from None


@dataclass(frozen=True)
class SyncResult:
    plan: BootPlan
    loader: bool


def sync_boot(
    root: Path,
    active: int,
    trees: Sequence[StateTree],
    config: BootConfig,
    targets: Targets,
    warn: Warn,
) -> SyncResult:
    """Plan and apply. A state without systemd-boot leaves the partitions alone (as upstream:
    entries nothing reads are not worth writing)."""
    request = build_request(root, active, trees, config.root_cmdline or "", config.window, warn)
    existing = read_existing(targets)
    plan = plan_boot(request, existing)
    for warning in plan.warnings:
        warn(warning)
    if request.loader is None:
        warn(f"state {active} has no systemd-boot ({root / LOADER_SOURCE}): boot left as it was")
        return SyncResult(plan, False)
    check_space(plan, targets, existing)
    apply_plan(plan, targets)
    return SyncResult(plan, True)

"""The client's side of boot management: which states have trees and kernels (from the state
and layout databases), the root's boot configuration, and the resync every transaction ends
with once its state is promoted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from moss_core._lazy import lazy_import
from moss_core.boot import config as boot_config
from moss_core.boot.errors import BootError, BootTargetError
from moss_core.client.errors import ClientError
from moss_core.client.report import Reporter
from moss_core.db import LayoutDb, StateDb
from moss_core.errors import MossError
from moss_core.installation import Installation

# Planning and writing boot entries loads only where a root has boot management: most
# transactions (scratch roots, containers) learn there is none from `boot_config` alone.
if TYPE_CHECKING:
    from moss_core.boot import plan as boot_plan
    from moss_core.boot import sync as boot_sync
    from moss_core.boot import targets as boot_targets
    from moss_core.boot import topology
else:
    boot_plan = lazy_import("moss_core.boot.plan")
    boot_sync = lazy_import("moss_core.boot.sync")
    boot_targets = lazy_import("moss_core.boot.targets")
    topology = lazy_import("moss_core.boot.topology")


class BootResyncError(ClientError):
    """The transaction is done, but the boot partitions could not follow it."""


def configure(
    installation: Installation,
    esp: Path | None,
    xbootldr: Path | None,
    root_cmdline: str | None,
    window: int | None = None,
) -> boot_config.BootConfig | None:
    """The root's settings with the command's options on top; new options are remembered."""
    current = boot_config.load_config(installation.root)
    if current is None and esp is None:
        if installation.root == Path("/"):
            found = discovered(xbootldr, root_cmdline)
            return found.merged(None, None, None, window)
        if xbootldr is not None or root_cmdline is not None or window is not None:
            raise BootError("no ESP is configured for this root: give --esp DIR as well")
        return None
    base = current or boot_config.BootConfig(esp=esp.absolute() if esp else Path())
    config = base.merged(
        esp.absolute() if esp else None,
        xbootldr.absolute() if xbootldr else None,
        root_cmdline,
        window,
    )
    if config != current:
        boot_targets.explicit_targets(config)
        boot_config.save_config(installation.root, config)
    return config


def discovered(xbootldr: Path | None, root_cmdline: str | None) -> boot_config.BootConfig:
    """The running system's partitions and root= (never remembered: they are found again)."""
    host = topology.Host()
    number = topology.root_device_number(host)
    found = topology.discover(host, number)
    return boot_config.BootConfig(
        esp=found.esp_dir,
        xbootldr=xbootldr or found.xbootldr_dir,
        root_cmdline=root_cmdline or topology.root_cmdline(host, number),
    )


def state_trees(
    installation: Installation,
    state_db: StateDb,
    layout_db: LayoutDb,
    active: int,
    window: int,
) -> list[boot_sync.StateTree]:
    """The states boot entries are planned for, with their layouts' kernel files (only the
    window's states, and only their `lib/kernel/` rows, are read)."""
    with_trees = []
    for state in state_db.list():
        sysroot = (
            installation.root if state.id == active else installation.archived_state_dir(state.id)
        )
        if (sysroot / "usr").is_dir():
            with_trees.append((state, sysroot))
    ids = set(boot_plan.window_ids((s.id for s, _ in with_trees), active, window))
    trees = []
    for state, sysroot in with_trees:
        if state.id not in ids:
            continue
        paths = tuple(
            f"usr/{entry.path}"
            for _package, entry in layout_db.files_under(
                (s.package_id for s in state.selections), "lib/kernel/"
            )
        )
        trees.append(boot_sync.StateTree(state.id, sysroot, paths))
    return trees


def sync(
    installation: Installation,
    state_db: StateDb,
    layout_db: LayoutDb,
    reporter: Reporter,
    config: boot_config.BootConfig,
) -> boot_sync.SyncResult:
    active = installation.active_state_id()
    if active is None:
        raise ClientError("no active state found")
    targets = boot_targets.explicit_targets(config)
    trees = state_trees(installation, state_db, layout_db, active, config.window)
    return boot_sync.sync_boot(installation.root, active, trees, config, targets, reporter.warn)


# systemd's mark of an initrd: there the boot partitions are not mounted, and the rollback
# moss-fstx runs (`moss -D /sysroot state activate`) must not fail on them (upstream H17).
INITRD_RELEASE = Path("/etc/initrd-release")


def resync_after_promotion(
    installation: Installation, state_db: StateDb, layout_db: LayoutDb, reporter: Reporter
) -> None:
    """Roots without boot configuration (scratch roots, containers) are skipped silently."""
    if INITRD_RELEASE.exists():
        if boot_config.load_config(installation.root) is not None:
            reporter.warn("in the initrd: boot entries are left for `moss boot sync` after boot")
        return
    try:
        config = boot_config.load_config(installation.root)
        if config is None and installation.root == Path("/"):
            try:
                config = discovered(None, None)
            except BootTargetError as err:
                reporter.warn(f"boot entries not updated: {err}")
                return
        if config is None:
            return
        sync(installation, state_db, layout_db, reporter, config)
    except (MossError, OSError) as err:
        if isinstance(err, OSError):
            err = BootError(f"{err.filename or installation.root}: {err.strerror}")
        active = installation.active_state_id()
        raise BootResyncError(
            f"state {active} is active, but its boot entries were not updated: {err} "
            "(fix that, then run `moss boot sync`)"
        ) from None

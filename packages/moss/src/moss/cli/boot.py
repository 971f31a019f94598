"""`moss boot`: the boot entries of the states (status), and bringing them in step (sync)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from moss.cli.base import emit_json, main, session, user_errors

if TYPE_CHECKING:
    from moss_core.boot.config import BootConfig
    from moss_core.boot.targets import Targets

LABEL = 15


@main.group()
def boot() -> None:
    """Boot entries for the states: systemd-boot, kernels and initrds on the ESP/XBOOTLDR."""


def _line(label: str, value: str) -> None:
    click.echo(f"{label:<{LABEL}}: {value}")


def _status(root: Path, config: BootConfig, targets: Targets) -> dict[str, Any]:
    from moss_core.boot.inputs import read_etc_cmdline
    from moss_core.boot.loader import default_entry, parse_loader_conf
    from moss_core.boot.plan import LOADER_TARGETS, owned_entry_state, parse_entry
    from moss_core.boot.sync import read_existing

    existing = read_existing(targets)
    settings = parse_loader_conf(existing.loader_conf or "")
    boots = default_entry(existing.entries, settings)
    loader_files = {p.lower() for p in existing.esp.files}
    entries = []
    for name, text in sorted(existing.entries.items()):
        keys = parse_entry(text)
        state = owned_entry_state(name, text, [name.split("-", 1)[0]])
        entries.append(
            {
                "name": name,
                "state": state,
                "title": (keys.get("title") or [""])[0],
                "linux": next(iter(keys.get("linux", [])), None),
                "initrds": keys.get("initrd", []),
                "options": " ".join(keys.get("options", [])),
                "moss": state is not None,
                "boots-by-default": name.lower() == boots,
            }
        )
    return {
        "esp": str(config.esp),
        "xbootldr": str(config.xbootldr) if config.xbootldr else None,
        "root-cmdline": config.root_cmdline,
        "global-cmdline": [
            *([config.root_cmdline] if config.root_cmdline else []),
            "rw",
            *read_etc_cmdline(root, lambda _: None).snippets,
        ],
        "bootloader": all(t.lower() in loader_files for t in LOADER_TARGETS),
        "default": settings.get("default"),
        "boots": boots,
        "entries": entries,
    }


def _print_status(status: dict[str, Any]) -> None:
    _line("ESP", status["esp"])
    _line("XBOOTLDR", status["xbootldr"] or "none")
    _line("Bootloader", "systemd-boot" if status["bootloader"] else "none")
    # As upstream prints it: Rust's debug form of a list of strings.
    items = ", ".join(json.dumps(item, ensure_ascii=False) for item in status["global-cmdline"])
    _line("Global cmdline", f"[{items}]")
    _line("Default", status["boots"] or "none")
    for entry in status["entries"]:
        owner = f"state {entry['state']}" if entry["moss"] else "not moss's"
        marker = " (default)" if entry["boots-by-default"] else ""
        click.echo(f"  {entry['name']}  [{owner}]{marker}")


def _configured(client: Any, config: BootConfig | None) -> BootConfig:
    from moss_core.boot.config import config_path
    from moss_core.boot.errors import BootError

    if config is None:
        raise BootError(
            f"no boot configuration for {client.installation.root} "
            f"({config_path(client.installation.root)}): run `moss boot sync --esp DIR` first"
        )
    return config


@boot.command(name="status")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def boot_status(ctx: click.Context, as_json: bool) -> None:
    """Where boot files go, and the entries there (which one a plain reboot picks)."""
    from moss_core.boot.targets import explicit_targets
    from moss_core.client import boot as glue

    with session(ctx, write=False) as client:
        config = _configured(client, glue.configure(client.installation, None, None, None))
        status = _status(client.installation.root, config, explicit_targets(config))
    if as_json:
        emit_json(status)
    else:
        _print_status(status)


@boot.command(name="sync")
@click.option("--esp", type=click.Path(path_type=Path), help="ESP directory or FAT image.")
@click.option("--xbootldr", type=click.Path(path_type=Path), help="XBOOTLDR directory or image.")
@click.option("--root-cmdline", help="Kernel arguments that find the root (root=…).")
@click.option(
    "--window",
    type=click.IntRange(min=0),
    help="How many states besides the active one keep entries (default 4).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@user_errors
def boot_sync(
    ctx: click.Context,
    esp: Path | None,
    xbootldr: Path | None,
    root_cmdline: str | None,
    window: int | None,
    as_json: bool,
) -> None:
    """Write the active state's and the kept states' entries; options given are remembered."""
    from moss_core.boot.targets import explicit_targets
    from moss_core.client import boot as glue

    with session(ctx, write=True) as client:
        config = _configured(
            client, glue.configure(client.installation, esp, xbootldr, root_cmdline, window)
        )
        result = glue.sync(
            client.installation, client.state_db, client.layout_db, client.reporter, config
        )
        status = _status(client.installation.root, config, explicit_targets(config))
    plan = result.plan
    if as_json:
        emit_json(
            {
                "updated": result.loader,
                "default": plan.default,
                "entries": [
                    {
                        "name": e.name,
                        "state": e.state_id,
                        "version": e.version,
                        "linux": f"/{e.linux}",
                        "initrds": [f"/{path}" for path in e.initrds],
                        "options": e.options,
                    }
                    for e in plan.entries
                ],
                "copied": [f"{c.part}:{c.path}" for c in plan.copies] if result.loader else [],
                "written": [f"{w.part}:{w.path}" for w in plan.writes]
                + ([f"esp:{plan.loader_conf.path}"] if plan.loader_conf else [])
                if result.loader
                else [],
                "removed": [f"{r.part}:{r.path}" for r in (*plan.removals, *plan.late_removals)]
                if result.loader
                else [],
                "warnings": list(plan.warnings),
                "status": status,
            }
        )
        return
    click.echo("Boot updated" if result.loader else "Boot left as it was")
    click.echo()
    _print_status(status)

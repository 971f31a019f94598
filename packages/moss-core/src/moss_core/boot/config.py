"""A root's boot configuration (`etc/moss/boot.kdl`, written by `moss boot sync --esp …`): the
partitions moss manages for it. Apart from the rest of boot management, so that a transaction on a
root with none learns it without loading the planner."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from moss_core import kdl
from moss_core.boot.errors import BootError
from moss_core.fs import write_atomically

# Boot entries are kept for the active state and this many others, unless a root says otherwise.
DEFAULT_WINDOW = 4
CONFIG_PATH = "etc/moss/boot.kdl"


@dataclass(frozen=True)
class BootConfig:
    esp: Path
    xbootldr: Path | None = None
    root_cmdline: str | None = None
    window: int = DEFAULT_WINDOW

    def merged(
        self,
        esp: Path | None,
        xbootldr: Path | None,
        root_cmdline: str | None,
        window: int | None = None,
    ) -> BootConfig:
        """These settings with the options a command gave on top."""
        changed = self
        if window is not None:
            changed = replace(changed, window=window)
        if esp is not None:
            changed = replace(changed, esp=esp)
        if xbootldr is not None:
            changed = replace(changed, xbootldr=xbootldr)
        if root_cmdline is not None:
            changed = replace(changed, root_cmdline=root_cmdline)
        return changed


def config_path(root: Path) -> Path:
    return root / CONFIG_PATH


def load_config(root: Path) -> BootConfig | None:
    """The root's boot settings, or None when moss manages no boot partition for it."""
    path = config_path(root)
    if not path.exists():
        return None
    values: dict[str, kdl.Value] = {}
    for node in kdl.load(path):
        if node.name not in ("esp", "xbootldr", "root-cmdline", "window") or len(node.args) != 1:
            raise BootError(f"{path}:{node.line}: unknown setting {node.name!r}")
        values[node.name] = node.args[0]
    esp = values.get("esp")
    if not isinstance(esp, str) or not esp:
        raise BootError(f'{path}: no esp "DIR" setting')
    xbootldr = values.get("xbootldr")
    cmdline = values.get("root-cmdline")
    window = values.get("window", DEFAULT_WINDOW)
    if not isinstance(window, int) or isinstance(window, bool) or window < 0:
        raise BootError(f"{path}: window must be a number of states (0 or more)")
    return BootConfig(
        esp=Path(esp),
        xbootldr=Path(xbootldr) if isinstance(xbootldr, str) and xbootldr else None,
        root_cmdline=cmdline if isinstance(cmdline, str) else None,
        window=window,
    )


def save_config(root: Path, config: BootConfig) -> None:
    nodes = [kdl.Node("esp", [str(config.esp)])]
    if config.xbootldr is not None:
        nodes.append(kdl.Node("xbootldr", [str(config.xbootldr)]))
    if config.root_cmdline is not None:
        nodes.append(kdl.Node("root-cmdline", [config.root_cmdline]))
    if config.window != DEFAULT_WINDOW:
        nodes.append(kdl.Node("window", [config.window]))
    path = config_path(root)
    try:
        write_atomically(path, kdl.dumps(nodes))
    except OSError as err:
        raise BootError(f"{err.filename or path}: {err.strerror}") from None

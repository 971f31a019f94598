"""The commands `peers.py` times: moss, pacman, ostree and cp, each one real process per step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

BLIT_LINE = re.compile(r"^(\d+) entries blitted in ([\d.]+)s", re.M)
# moss as a user runs it: the console script next to the interpreter, else `python -m moss`.
_SCRIPT = Path(sys.executable).parent / "moss"
MOSS = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "moss"]
FLAT_STORE_MOSS = [sys.executable, str(Path(__file__).with_name("flat_store_moss.py"))]


# Every tool runs in a UTF-8 locale: libarchive (bsdtar, pacman) needs one for non-ASCII names.
ENV = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def bytecode_cache(directory: Path | None) -> None:
    """Python children keep their bytecode in `directory` (a scratch directory: nothing is
    written in the checkout), as an installed moss has it; None: no bytecode is written, so
    modules without a `__pycache__` beside them are compiled at every start."""
    if directory is None:
        ENV.pop("PYTHONPYCACHEPREFIX", None)
        ENV["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        ENV["PYTHONPYCACHEPREFIX"] = str(directory)
        ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `argv` to completion, failing loudly with its output."""
    result = subprocess.run(argv, capture_output=True, text=True, env=ENV, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:6])}{' ...' if len(argv) > 6 else ''} failed "
            f"({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result


def timed(argv: list[str]) -> tuple[float, str]:
    """Wall time of one process, and its standard output."""
    started = time.perf_counter()
    result = run(argv)
    return time.perf_counter() - started, result.stdout


def moss(root: Path, *args: str, command: list[str] = MOSS) -> list[str]:
    return [*command, "-D", str(root), "-y", *args]


def moss_root(root: Path, repo: Path) -> None:
    """An empty root that knows the benchmark repository (not timed)."""
    root.mkdir()
    run(moss(root, "repo", "add", "peers", f"file://{repo}/stone.index"))


PACMAN_CONF = """\
# The peers benchmark: local packages only, no signatures, no space check, no hooks of the host.
[options]
Architecture = x86_64
SigLevel = Never
LocalFileSigLevel = Never
"""


def pacman_root(root: Path) -> None:
    """An empty pacman root: its database, cache, log and hook directories (not timed)."""
    for sub in ("var/lib/pacman", "var/cache/pacman/pkg", "var/log", "etc/pacman.d/hooks"):
        (root / sub).mkdir(parents=True)
    (root / "etc/pacman.conf").write_text(PACMAN_CONF)


def pacman(root: Path, *args: str) -> list[str]:
    """pacman confined to `root`: pacman 6 takes none of these paths from `--root`."""
    return [
        "pacman",
        f"--root={root}",
        f"--config={root}/etc/pacman.conf",
        f"--dbpath={root}/var/lib/pacman",
        f"--cachedir={root}/var/cache/pacman/pkg",
        f"--logfile={root}/var/log/pacman.log",
        f"--hookdir={root}/etc/pacman.d/hooks",
        f"--gpgdir={root}/etc/pacman.d/gnupg",
        "--noconfirm",
        "--noprogressbar",
        *args,
    ]


def syncfs(path: Path) -> None:
    """Flush the file system holding `path` (what moss does before its exchange)."""
    run(["sync", "--file-system", str(path)])

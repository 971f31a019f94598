"""Write the man pages of moss, boulder, stone and summit from their command-line definitions
(click-man), into packages/<tool>/man/, from where the wheels install them under
share/man/man1. `make man` runs this; a test fails when a page is out of date."""

from __future__ import annotations

import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import click
from click_man.core import write_man_pages

WORKSPACE = Path(__file__).resolve().parents[1]


def commands() -> dict[str, click.Command]:
    from boulder.cli.app import cli as boulder
    from moss.cli import main as moss
    from stone.cli import main as stone
    from summit.cli import cli as summit

    return {"moss": moss, "boulder": boulder, "stone": stone, "summit": summit}


def write_all(top: Path) -> None:
    # click-man 0.6 calls a helper click 8.2 deprecated; the pages are right all the same.
    warnings.filterwarnings("ignore", "'click.utils.make_default_short_help'", DeprecationWarning)
    for name, command in commands().items():
        target = top / "packages" / name / "man"
        target.mkdir(parents=True, exist_ok=True)
        for old in target.glob("*.1"):
            old.unlink()
        # A fixed date: the pages change only when the command line does.
        write_man_pages(name, command, version=version(name), target_dir=str(target), date="-")


if __name__ == "__main__":
    write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else WORKSPACE)

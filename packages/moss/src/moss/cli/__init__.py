"""The `moss` command line: `main` is the command group, `run` the console script."""

from moss.cli import boot, completion, files, packages, repos, states  # noqa: F401  (each registers its commands)
from moss.cli.base import main, run

__all__ = ["main", "run"]

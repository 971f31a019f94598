"""Each tool runs as `python -m TOOL` and tells its version, as the console scripts do."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest


@pytest.mark.parametrize("tool", ["moss", "stone", "boulder"])
def test_python_m_tool_version(tool: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", tool, "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{tool} {version(tool)}"
    assert done.stderr == ""

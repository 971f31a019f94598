"""`python -m summit.supervise COMMAND...`: run a build so that it dies with its worker.

The worker starts this in a new process group with a parent-death signal; when the worker
dies (even by SIGKILL) the signal arrives here and the whole group, every process the build
started, is killed, which a parent-death signal alone (direct child only) would not do.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1


def _kill_group(_signum: int, _frame: FrameType | None) -> None:
    os.killpg(0, signal.SIGKILL)


def main(command: list[str]) -> int:
    signal.signal(signal.SIGTERM, _kill_group)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        return 1
    return subprocess.call(command, stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

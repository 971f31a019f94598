"""What the benchmarks of generated systems share (`one_change.py`, `trigger_batch.py`): where
their generated repositories are kept, how a generated package is written, and how one `moss`
process is run and measured."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import xxhash
from peers_tools import ENV

from stone import BytesBlob, LayoutEntry, Meta, write_binary


def scratch_base() -> Path:
    """Where generated repositories are kept between runs: `$BENCH_TMP`, else `.bench-tmp` in
    the checkout."""
    base = os.environ.get("BENCH_TMP")
    return Path(base) if base else Path(__file__).resolve().parent.parent / ".bench-tmp"


def write_package(directory: Path, name: str, contents: Mapping[str, bytes | str]) -> None:
    """`<name>-1-1-1-x86_64.stone` in `directory`, of regular files (paths relative to `/usr`;
    those under `bin/` executable)."""
    layout, blobs = [], {}
    for path, content in contents.items():
        data = content.encode() if isinstance(content, str) else content
        digest = xxhash.xxh3_128_intdigest(data)
        blobs[digest] = BytesBlob(data)
        mode = 0o755 if path.startswith("bin/") else 0o644
        layout.append(LayoutEntry.regular(path, digest, mode=mode))
    out = io.BytesIO()
    write_binary(out, Meta(name=name, version="1", release=1, architecture="x86_64"), layout, blobs)
    (directory / f"{name}-1-1-1-x86_64.stone").write_bytes(out.getvalue())


@dataclass(frozen=True)
class MossRun:
    seconds: float
    """Wall time."""
    cpu_s: float
    """Processor time of moss and every process it waited for."""
    peak_mb: float
    """moss's own peak RSS."""
    output: str


def run_moss(root: Path, *args: str, python: tuple[str, ...] = ()) -> MossRun:
    """Run `moss -D root -y ARGS` (the interpreter given `python` options first, such as a
    profiler's), failing loudly with its output."""
    command = [sys.executable, *python, "-m", "moss", "-D", str(root), "-y", *args]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV)
    output = (process.stdout.read() if process.stdout else b"").decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"moss {' '.join(args)} failed:\n{output}")
    return MossRun(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output)

"""Run moss commands on a root inside a small tmpfs, in a user + mount namespace of its own.

`python small_tmpfs.py` reads a JSON request on stdin: `{"mount": DIR, "options": "size=..",
"root": ROOT, "env": {...}, "steps": [["install", "x.stone"], "snapshot", ...]}`. It enters new
user and mount namespaces (through `moss_core.container.syscalls`, no helper binary), mounts a
tmpfs with `options` at DIR (which only this process and its children see), then runs each step:
a list is a moss command line, run as `moss -D ROOT -y ...` in a child process; "snapshot"
records what the root holds. It prints one JSON list, a result per step. Test code only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from moss_core.container import syscalls


def enter(mount: str, options: str) -> None:
    uid, gid = os.geteuid(), os.getegid()
    syscalls.unshare(syscalls.CLONE_NEWUSER | syscalls.CLONE_NEWNS)
    syscalls.map_ids(uid, uid, gid, gid)
    syscalls.mount(None, "/", None, syscalls.MS_REC | syscalls.MS_PRIVATE)
    flags = syscalls.MS_NOSUID | syscalls.MS_NODEV
    syscalls.mount("tmpfs", mount, "tmpfs", flags, f"mode=0755,{options}")


def snapshot(root: Path) -> dict[str, Any]:
    from moss_roots import active_state, db_view, tree_listing

    view = db_view(root)
    return {
        "listing": sorted(list(e) for e in tree_listing(root / "usr")),
        "active": active_state(root),
        "states": {str(k): sorted(v) for k, v in sorted(view.states.items())},
        "missing": list(view.missing),
        "staging": (root / ".moss/root/staging/usr").exists(),
        "journal": (root / ".moss/root/exchange.json").exists(),
        "free": shutil.disk_usage(root).free,
        "inodes": os.statvfs(root).f_ffree,
        "moss": {
            str(d.relative_to(root)): sum(len(files) for _, _, files in os.walk(d))
            for d in sorted((root / ".moss").glob("*/*"))
            if d.is_dir()
        },
    }


def main() -> None:
    request = json.load(sys.stdin)
    enter(request["mount"], request["options"])
    root = Path(request["root"])
    root.mkdir()
    env = {**os.environ, **request["env"]}
    results: list[Any] = []
    for step in request["steps"]:
        if step == "snapshot":
            results.append(snapshot(root))
            continue
        done = subprocess.run(
            [sys.executable, "-m", "moss", "-D", str(root), "-y", *step],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        results.append({"code": done.returncode, "out": done.stdout, "err": done.stderr})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

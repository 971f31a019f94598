"""A transaction on a root inside a small tmpfs (a user + mount namespace made by the test) that
runs out of space or inodes fails with one clear line, leaves the live tree and the databases as
they were, and a smaller transaction afterwards works with `state verify` clean."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moss_roots import make_stone, moss_env

from moss_core.container import namespaces_available

HELPER = Path(__file__).with_name("small_tmpfs.py")
SUPPORT = Path(__file__).resolve().parents[1] / "support"
SIZE_KIB = 3072
INODES = 600


@pytest.fixture(scope="module")
def _namespaces() -> None:
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"a tmpfs of our own needs user and mount namespaces: {reason}")


def _in_small_tmpfs(tmp_path: Path, steps: list[Any]) -> list[dict[str, Any]]:
    mount = tmp_path / "small"
    mount.mkdir()
    env = moss_env(
        {"PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    )
    request = {
        "mount": str(mount),
        "options": f"size={SIZE_KIB}k,nr_inodes={INODES}",
        "root": str(mount / "root"),
        "env": {},
        "steps": steps,
    }
    done = subprocess.run(
        [sys.executable, str(HELPER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert not any(mount.iterdir()), "the tmpfs was visible outside its namespace"
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def _unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key in ("listing", "active", "states"):
        assert after[key] == before[key], key
    assert not after["missing"] and not after["staging"] and not after["journal"]


@pytest.mark.usefixtures("_namespaces")
def test_full_disk_fails_cleanly_and_leaves_the_root(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    packages.mkdir()
    noise = random.Random(8)
    base = make_stone(packages, "base", {f"share/base/{n}": f"base {n}\n" for n in range(20)})
    cases = {
        # Incompressible and bigger than the tmpfs: the download into the cache fails.
        "download": make_stone(packages, "big", {"share/big/blob": noise.randbytes(4 << 20)}),
        # A small .stone whose content does not fit: the store unpack fails.
        "unpack": make_stone(packages, "zeros", {"share/zeros/blob": bytes(5 << 20)}),
        # One asset, but more directories than there are inodes left: the blit fails.
        "blit": make_stone(packages, "dirs", {f"share/dirs/{n}/x": b"same\n" for n in range(700)}),
    }
    small = make_stone(packages, "small", {"share/small/one": b"small\n"})
    steps: list[Any] = [["install", str(base)], "snapshot"]
    for stone in cases.values():
        steps += [["install", str(stone)], "snapshot"]
    steps += [["install", str(small)], ["state", "verify"], "snapshot"]
    results = _in_small_tmpfs(tmp_path, steps)
    installed, before = results[:2]
    assert installed["code"] == 0, installed["err"]
    errors = []
    for number, where in enumerate(cases):
        failed, after = results[2 + 2 * number : 4 + 2 * number]
        assert failed["code"] == 1, (where, failed)
        assert failed["err"].startswith("moss: error: "), (where, failed["err"])
        assert failed["err"].count("\n") == 1, (where, failed["err"])
        assert "No space left on device" in failed["err"], (where, failed["err"])
        _unchanged(before, after)
        # Nothing of the failed transaction holds space or inodes beyond its download.
        assert after["moss"][".moss/root/staging"] == 0, where
        errors.append(f"{where}: {failed['err'].strip()}")
    fits, verify, final = results[-3:]
    assert fits["code"] == 0, fits["err"]
    assert verify["code"] == 0 and verify["out"].strip().endswith("No issues found"), verify
    assert final["active"] == 2 and sorted(final["states"]) == ["1", "2"]
    assert ["share/small/one", _sha256(b"small\n")] in [[e[0], e[2]] for e in final["listing"]]
    print("full disk:", " | ".join(errors))


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()

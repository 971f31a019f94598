"""Coverage-guided fuzzing (atheris) of the same readers as test_fuzz.py, when atheris is
installed; it is not a dependency, so this skips in the plain uv environment."""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from moss_roots import make_stone

from moss_core.repository import build_index

TARGETS_SCRIPT = Path(__file__).with_name("atheris_targets.py")
RUNS = 2000


def _seeds(target: str, directory: Path, corpus: Path | None) -> None:
    directory.mkdir()
    if target in ("stone", "index"):
        repo = directory.parent / f"{target}-repo"
        repo.mkdir()
        stone = make_stone(repo, "a", {"bin/a": b"a", "share/a": "->../bin/a"}, depends=["b"])
        build_index(repo)
        source = stone if target == "stone" else repo / "stone.index"
        (directory / "seed").write_bytes(source.read_bytes())
    elif corpus is not None:
        pattern = {"kdl": "**/*.kdl", "trigger": "recipes/*/*/pkg/*.yaml"}.get(
            target, "recipes/*/*/stone.yaml"
        )
        files = sorted(corpus.glob(pattern))
        for number, path in enumerate(random.Random(8).sample(files, min(20, len(files)))):
            (directory / f"seed-{number}").write_bytes(path.read_bytes())


@pytest.mark.parametrize("target", ["stone", "index", "kdl", "trigger", "recipe"])
def test_atheris(tmp_path: Path, target: str) -> None:
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris is not installed here (optional: `pip install atheris`)")
    corpus = Path(__file__).resolve().parents[3] / "shared" / "corpus"
    seeds = tmp_path / "seeds"
    _seeds(target, seeds, corpus if corpus.is_dir() else None)
    done = subprocess.run(
        [
            sys.executable,
            str(TARGETS_SCRIPT),
            target,
            str(seeds),
            f"-runs={RUNS}",
            "-timeout=10",
            "-rss_limit_mb=1024",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"atheris[{target}]: {RUNS} runs, no crash")

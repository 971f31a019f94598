"""Two moss processes on one root, twenty rounds: the second waits for the first (or, with
`--no-wait`, fails at once with one clean line); never a database error, never a traceback, and
the root always matches what the successful runs did."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from moss_roots import active_state, db_view, make_stone, moss_argv, moss_env, run_moss

ROUNDS = 20


def _start(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        moss_argv(root, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=moss_env(),
    )


def _installed(root: Path) -> set[str]:
    listed = run_moss(root, "list", "installed", "--json")
    assert listed.returncode == 0, listed.stderr
    return {p["name"] for p in json.loads(listed.stdout or "[]")}


def test_two_writers_and_a_reader_for_twenty_rounds(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    stones = [
        make_stone(tmp_path, f"p{n}", {f"share/p{n}/{i}": f"{n}{i}" for i in range(20)})
        for n in range(2)
    ]
    expected: set[str] = set()
    waited = refused = 0
    for round_ in range(ROUNDS):
        installing = round_ % 2 == 0
        no_wait = round_ % 4 == 3
        writers = [
            _start(
                root,
                "-y",
                *(["--no-wait"] if no_wait else []),
                *(["install", str(stone)] if installing else ["remove", f"p{n}"]),
            )
            for n, stone in enumerate(stones)
        ]
        reader = _start(root, "list", "installed")
        for n, writer in enumerate(writers):
            out, err = writer.communicate(timeout=120)
            label = (round_, n, out, err)
            assert "Traceback" not in err and "database" not in err.lower(), label
            if writer.returncode == 0:
                (expected.add if installing else expected.discard)(f"p{n}")
                waited += "Blocking: another moss process" in err
            else:
                # Only a --no-wait run may fail, and only because the other one held the root.
                assert no_wait and writer.returncode == 1, label
                assert err.startswith("moss: error: another moss process"), label
                assert err.count("\n") == 1, label
                refused += 1
        _out, err = reader.communicate(timeout=120)
        lines = [line for line in err.splitlines() if not line.startswith("warning: Blocking:")]
        assert reader.returncode == 0 and lines in ([], ["No packages"]), (round_, err)
        assert _installed(root) == expected, round_
        view = db_view(root)
        assert not view.missing and active_state(root) in view.states, round_
    verify = run_moss(root, "-y", "state", "verify")
    assert verify.returncode == 0 and verify.stdout.strip().endswith("No issues found"), (
        verify.stdout + verify.stderr
    )
    print(f"concurrency: {ROUNDS} rounds, {waited} waits, {refused} clean --no-wait refusals")

"""`summit` user errors: one line, non-zero exit, and nothing started that need not be."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

from .conftest import run_group, write_recipe


def _summit(*args: str) -> tuple[int, str, str]:
    done = run_group([sys.executable, "-m", "summit", *args])
    return done.returncode, done.stdout, done.stderr


def test_unwritable_repository_is_one_line(tmp_path: Path) -> None:
    write_recipe(tmp_path / "recipes", "solo", (), ())
    code, _out, err = _summit("build", str(tmp_path / "recipes"), "--repo", "/dev/null/repo")
    assert code == 1
    assert err == "Error: /dev/null/repo: repository directory is not writable: Not a directory\n"


def test_unreachable_scheduler_is_one_line(tmp_path: Path) -> None:
    write_recipe(tmp_path / "recipes", "solo", (), ())
    code, _out, err = _summit(
        "build", str(tmp_path / "recipes"), "--repo", str(tmp_path / "repo"),
        "--scheduler", "tcp://127.0.0.1:9",
    )  # fmt: skip
    assert code == 1
    assert err.startswith("Error: cannot reach the Dask scheduler tcp://127.0.0.1:9: ")
    assert err.count("\n") == 1


def test_tls_scheduler_without_credentials_is_one_line(tmp_path: Path) -> None:
    write_recipe(tmp_path / "recipes", "solo", (), ())
    repo = ("build", str(tmp_path / "recipes"), "--repo", str(tmp_path / "repo"))
    code, out, err = _summit(*repo, "--scheduler", "tls://127.0.0.1:9")
    assert code == 1 and out == ""
    assert err == (
        "Error: tls://127.0.0.1:9: a TLS scheduler needs a CA file, a client certificate and "
        "its key: --tls-ca-file, --tls-cert and --tls-key (or Dask's "
        "distributed.comm.tls.ca-file, .client.cert and .client.key)\n"
    )
    code, out, err = _summit(*repo, "--scheduler", "tls://127.0.0.1:9", "--tls-key", "k.pem")
    assert code == 1 and out == ""
    assert err == (
        "Error: --tls-ca-file, --tls-cert, --tls-key go together: --tls-ca-file, --tls-cert "
        "missing\n"
    )


def test_cycle_without_bootstrap_fails_before_any_build(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes, "cyc-a", ("name(cyc-b)",), ())
    write_recipe(recipes, "cyc-b", ("name(cyc-a)",), ())
    code, out, err = _summit("build", str(recipes), "--repo", str(tmp_path / "repo"))
    assert code == 1
    assert "started" not in out
    assert (
        "failed: cyc-b: cycle with no bootstrap: cyc-b needs name(cyc-a) from cyc-a, which "
        "needs cyc-b; publish an older cyc-a first" in err
    )
    assert "blocked: cyc-a: blocked by cyc-b_x86_64 (cyc-b failed)" in err
    # A failure stays until `retry` or a new release; what it blocks stays blocked by it.
    code, out, err = _summit("build", str(recipes), "--repo", str(tmp_path / "repo"))
    assert code == 1 and "started" not in out
    assert "blocked: cyc-a: blocked by cyc-b_x86_64 (cyc-b failed)" in err
    code, out, _err = _summit("status", "--repo", str(tmp_path / "repo"), "--json")
    assert code == 0
    assert {t["name"]: t["status"] for t in json.loads(out)} == {
        "cyc-a": "blocked", "cyc-b": "failed",
    }  # fmt: skip


def test_status_of_a_repository_never_built(tmp_path: Path) -> None:
    code, _out, err = _summit("status", "--repo", str(tmp_path))
    assert code == 1
    assert err == f"Error: {tmp_path}: no summit state here (run `summit build` first)\n"


def test_serve_on_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    write_recipe(tmp_path / "recipes", "solo", (), ())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = _summit(
            "serve", str(tmp_path / "recipes"), "--repo", str(tmp_path / "repo"),
            "--port", str(port),
        )  # fmt: skip
    assert code == 1 and out == ""
    assert err.startswith(f"Error: cannot serve on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1

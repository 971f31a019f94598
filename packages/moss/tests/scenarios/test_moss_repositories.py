"""Repositories on disk (`file://`): pull-in, priorities, sync (downgrades too), system models,
export and import."""

from __future__ import annotations

import json
import re
from pathlib import Path

from moss_core.repository import build_index

from .helpers import MossRun, make_stone, run_moss_process


def _repo(directory: Path, *stones: tuple[str, dict[str, object]]) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    for name, options in stones:
        make_stone(directory, name, **options)  # type: ignore[arg-type]
    build_index(directory)
    return f"file://{directory}/stone.index"


def _ab_repo(tmp_path: Path) -> str:
    return _repo(
        tmp_path / "repo",
        ("a", {"files": {"bin/a": b"a"}, "depends": ["soname(libb.so.1(x86_64))"]}),
        ("b", {"files": {"lib/libb.so.1": b"b"}, "provides": ["soname(libb.so.1(x86_64))"]}),
        ("c", {"files": {"share/c": b"c"}}),
    )


def _installed(moss: MossRun) -> dict[str, tuple[str, bool]]:
    listed = json.loads(moss("list", "installed", "--json").out)
    return {p["name"]: (f"{p['version']}-{p['release']}", p["explicit"]) for p in listed}


def test_repo_add_list_and_pull_in(root: Path, tmp_path: Path, moss: MossRun) -> None:
    uri = _ab_repo(tmp_path)
    assert "(no repository is configured: add one with" in moss("install", "a").err
    added = moss("repo", "add", "local", uri)
    assert added.code == 0 and "local added" in added.out
    assert (root / "etc/moss/repo.d/local.kdl").exists()
    assert f" - local = {uri} [0]" in moss("repo", "list").out
    result = moss("install", "a")
    assert result.code == 0, result.text
    assert "a" in result.out and "b" in result.out
    # The plan names each package's repository and download size, and the total.
    assert re.search(r"^  a  1\.0-1  local +\d+(\.\d)? (B|KiB)$", result.out, re.M), result.out
    assert "Total download size: " in result.out
    assert _installed(moss) == {"a": ("1.0-1", True), "b": ("1.0-1", False)}
    model = (root / "usr/lib/system-model.kdl").read_text()
    assert "packages" in model and "a id=" in model and "local" in model
    assert moss("install", "nope").err.strip() == "moss: error: no package found: nope"
    # Installed and in a repository: one package, shown once with its repository.
    info = json.loads(moss("info", "a", "--json").out)
    assert [(p["name"], p["installed"], p["repository"]) for p in info] == [("a", True, "local")]
    shown = moss("info", "a").out
    assert shown.count("Name") == 1 and "Repository          local" in shown
    found = moss("search", "").out.splitlines()
    assert [line.split()[0] for line in found] == ["a", "b", "c"]
    assert len({line.index(line.split()[1]) for line in found if len(line.split()) > 1}) <= 1
    assert moss("remove", "a").code == 0
    assert _installed(moss) == {}


def test_priorities_and_sync_downgrade(root: Path, tmp_path: Path, moss: MossRun) -> None:
    high = _repo(
        tmp_path / "hi", ("foo", {"version": "2", "release": 2, "files": {"share/foo": b"2"}})
    )
    low = _repo(
        tmp_path / "lo", ("foo", {"version": "1", "release": 1, "files": {"share/foo": b"1"}})
    )
    assert moss("repo", "add", "hi", high, "-p", "10").code == 0
    assert moss("repo", "add", "lo", low, "-p", "0").code == 0
    assert moss("install", "foo").code == 0
    assert _installed(moss) == {"foo": ("2-2", True)}
    assert moss("list", "sync").out == ""
    assert moss("repo", "remove", "hi").code == 0
    assert "foo  2-2 => 1-1" in moss("list", "sync").out
    assert moss("list", "sync", "--upgrade-only").out == ""
    synced = moss("sync")
    assert synced.code == 0, synced.text
    assert (
        "The following packages will be updated:" in synced.out and "foo 2-2 -> 1-1" in synced.out
    )
    assert _installed(moss) == {"foo": ("1-1", True)}
    assert (root / "usr/share/foo").read_bytes() == b"1"
    assert moss("repo", "remove", "lo").code == 0
    assert "No packages to sync" in moss("sync").out


def test_system_model_is_authoritative(root: Path, tmp_path: Path, moss: MossRun) -> None:
    uri = _ab_repo(tmp_path)
    assert moss("repo", "add", "local", uri).code == 0
    assert moss("install", "a").code == 0
    model = root / "etc/moss/system-model.kdl"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_text(
        f'repositories {{\n    local {{\n        uri "{uri}"\n        priority 1\n    }}\n}}\n'
        "packages {\n    c\n}\n"
    )
    listed = moss("list", "installed")
    assert 'INFO: "' in listed.err and "is present & therefore active" in listed.err
    refused = moss("repo", "add", "x", "file:///y/stone.index")
    assert refused.code == 1 and "refused with a system model" in refused.err
    synced = moss("sync")
    assert synced.code == 0, synced.text
    assert "The following packages will be added:" in synced.out
    assert "The following orphaned packages will be removed:" in synced.out
    assert _installed(moss) == {"c": ("1.0-1", True)}


def test_export_then_import_reproduces_package_ids(tmp_path: Path, moss: MossRun) -> None:
    uri = _ab_repo(tmp_path)
    assert moss("repo", "add", "local", uri).code == 0
    assert moss("install", "a", "c").code == 0
    exported = tmp_path / "exported.kdl"
    assert moss("state", "export", "-o", str(exported)).code == 0
    first = {p["id"] for p in json.loads(moss("list", "installed", "--json").out)}

    other = tmp_path / "other"
    other.mkdir()
    imported = run_moss_process(other, "-y", "sync", "--import", str(exported))
    assert imported.returncode == 0, imported.stderr
    listed = run_moss_process(other, "list", "installed", "--json")
    second = {p["id"] for p in json.loads(listed.stdout)}
    assert second == first
    explicit = {p["name"]: p["explicit"] for p in json.loads(listed.stdout)}
    assert explicit == {"a": True, "b": False, "c": True}


def test_fetch_and_cache_prune(root: Path, tmp_path: Path, moss: MossRun) -> None:
    uri = _ab_repo(tmp_path)
    assert moss("repo", "add", "local", uri).code == 0
    fetched = moss("fetch", "c")
    assert fetched.code == 0 and "Fetched" in fetched.out
    path = Path(fetched.out.split("Fetched ", 1)[1].strip())
    assert path.exists() and path.parent.parent.parent.name == "v1"
    assert moss("cache", "prune").code == 0
    assert not path.exists()


def test_corrupt_package_is_refused_and_nothing_changes(
    root: Path, tmp_path: Path, moss: MossRun
) -> None:
    uri = _ab_repo(tmp_path)
    assert moss("repo", "add", "local", uri).code == 0
    assert moss("install", "a").code == 0
    stone = next((tmp_path / "repo").glob("c-*.stone"))
    data = bytearray(stone.read_bytes())
    data[-5] ^= 0xFF
    stone.write_bytes(bytes(data))
    result = moss("install", "c")
    assert result.code == 1
    assert "sha256 mismatch" in result.err and result.err.count("\n") == 1
    assert (root / "usr/.stateID").read_text().strip() == "1"
    assert not list((root / ".moss/cache/downloads").rglob("*.part"))


def test_a_repository_that_fails_its_first_refresh_is_not_saved(
    root: Path, tmp_path: Path, moss: MossRun
) -> None:
    (tmp_path / "bad.index").write_bytes(b"not a stone index at all")
    for uri in (
        "file:///nonexistent/stone.index",
        f"file://{tmp_path}",
        f"file://{tmp_path}/bad.index",
        "http://127.0.0.1:9/stone.index",
    ):
        failed = moss("repo", "add", "bad", uri)
        assert failed.code == 1 and failed.err.count("\n") == 1, (uri, failed.err)
        assert moss("repo", "list", "--json").out.strip() == "[]", uri
        assert not list((root / ".moss/repo").iterdir()), uri
    # Nothing half-saved breaks the commands that read the repositories.
    local = make_stone(tmp_path, "c", {"share/c": b"c"})
    assert moss("install", str(local)).code == 0
    assert moss("search", "c").code == 0


def test_repo_add_of_a_configured_name_needs_replace(tmp_path: Path, moss: MossRun) -> None:
    uri = _ab_repo(tmp_path)
    other = _repo(tmp_path / "other", ("d", {"files": {"share/d": b"d"}}))
    assert moss("repo", "add", "r", uri).code == 0
    refused = moss("repo", "add", "r", other)
    assert refused.code == 1 and "already configured" in refused.err and "--replace" in refused.err
    assert f" - r = {uri} [0]" in moss("repo", "list").out
    assert moss("repo", "add", "r", other, "--replace").code == 0
    assert f" - r = {other} [0]" in moss("repo", "list").out


def test_search_lists_installed_then_repository_winners(tmp_path: Path, moss: MossRun) -> None:
    uri = _repo(
        tmp_path / "repo",
        ("toolkit", {"summary": "Legacy widgets", "release": 1}),
        ("toolkit", {"summary": "Widgets and more", "release": 2}),
        ("other", {"summary": "Uses a TOOLKIT"}),
        ("unrelated", {"summary": "nothing"}),
    )
    assert moss("repo", "add", "local", uri).code == 0
    assert moss("search", "tool").out.splitlines() == [
        "toolkit  Widgets and more",
        "other    Uses a TOOLKIT",
    ]
    # Only the newest toolkit counts: its summary, not the older one's, is searched.
    assert moss("search", "widgets").out.splitlines() == ["toolkit  Widgets and more"]
    assert moss("search", "legacy").out == ""
    assert moss("search", "zzz").out == ""
    assert moss("install", "other").code == 0
    assert moss("search", "-i", "tool").out.splitlines() == ["other  Uses a TOOLKIT"]

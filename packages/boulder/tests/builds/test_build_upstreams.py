"""Upstreams: hash checks and cache, git mirrors, and safe unpacking."""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import os
import shutil
import subprocess
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
import zstandard
from loopback_http import Fault, serving

from boulder.build.pipeline import upstream_version, version_mismatch
from boulder.build.upstreams import (
    check_local,
    check_names,
    fetch_git,
    fetch_plain,
    plain_cache_path,
    unpack,
)
from boulder.cli import main
from boulder.errors import UpstreamError
from boulder.recipe.load import load_recipe
from boulder.recipe.model import GitUpstream, PlainUpstream
from moss_core.repository import TransferLimits

from .conftest import sha256


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.uid = 1234
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_plain_fetch_verifies_caches_and_reports_mismatch(tmp_path: Path) -> None:
    source = tmp_path / "a.tar.gz"
    source.write_bytes(b"contents")
    good = PlainUpstream(source.as_uri(), sha256(source))
    logged: list[str] = []
    cached = fetch_plain(tmp_path / "cache", good, logged.append)
    assert (
        cached == plain_cache_path(tmp_path / "cache", good) and cached.read_bytes() == b"contents"
    )
    source.unlink()
    assert fetch_plain(tmp_path / "cache", good, logged.append) == cached
    assert logged == ["Shared a.tar.gz", "Shared a.tar.gz (cached)"]

    source.write_bytes(b"other")
    bad = PlainUpstream(source.as_uri(), "ab" * 32, rename="renamed.tgz")
    with pytest.raises(UpstreamError, match=r'hash mismatch for renamed.tgz, expected "abab'):
        fetch_plain(tmp_path / "cache", bad, logged.append)
    assert not plain_cache_path(tmp_path / "cache", bad).exists()


def test_missing_upstream_is_an_upstream_error(tmp_path: Path) -> None:
    with pytest.raises(UpstreamError, match="cannot fetch"):
        fetch_plain(tmp_path, PlainUpstream((tmp_path / "nope").as_uri(), "ab" * 32), print)


def test_unpack_strips_directories_and_owners(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "a.tar.gz",
        [
            _file("top/src/a.c", b"int a;"),
            _file("top/run", b"#!", 0o4755),
            _link("top/l", "src/a.c"),
        ],
    )
    unpack(archive, tmp_path / "out", 1)
    assert (tmp_path / "out/src/a.c").read_bytes() == b"int a;"
    assert os.readlink(tmp_path / "out/l") == "src/a.c"
    assert (tmp_path / "out/run").stat().st_mode & 0o7777 == 0o755
    assert (tmp_path / "out/run").stat().st_uid == os.geteuid()


@pytest.mark.parametrize(
    "members",
    [
        [_file("../evil")],
        [_file("/abs/evil")],
        [_link("top/d", "/etc"), _file("top/d/passwd")],
        [_link("top/h", "../../outside", tarfile.LNKTYPE)],
        [_link("top/s", "/etc/passwd"), _link("top/h", "top/s", tarfile.LNKTYPE)],
    ],
)
def test_unpack_refuses_escapes(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]
) -> None:
    archive = _tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(UpstreamError):
        unpack(archive, tmp_path / "out", 1)
    assert not (tmp_path / "evil").exists()


def test_unpack_zstd_tar_and_zip(tmp_path: Path) -> None:
    plain = _tar(tmp_path / "p.tar", [_file("top/a", b"zst")])
    data = gzip.decompress(plain.read_bytes())
    (tmp_path / "p.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    unpack(tmp_path / "p.tar.zst", tmp_path / "z", 1)
    assert (tmp_path / "z/a").read_bytes() == b"zst"

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zipped:
        info = zipfile.ZipInfo("top/bin/tool")
        info.external_attr = 0o755 << 16
        zipped.writestr(info, b"tool")
    unpack(tmp_path / "a.zip", tmp_path / "zip", 1)
    assert (tmp_path / "zip/bin/tool").read_bytes() == b"tool"
    assert (tmp_path / "zip/bin/tool").stat().st_mode & 0o777 == 0o755


def test_git_upstream_is_mirrored_and_checked_out(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs the host's git")
    repo = tmp_path / "repo"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "f").write_text("one")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "1"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "tag", "v1"], check=True)
    (repo / "f").write_text("two")
    subprocess.run(["git", "-C", str(repo), "commit", "-qam", "2"], check=True, env=env)
    upstream = GitUpstream(repo.as_uri(), "v1")
    commit = fetch_git(tmp_path / "cache", upstream, tmp_path / "clone", print)
    assert (tmp_path / "clone/f").read_text() == "one"
    assert len(commit) == 40
    origin = subprocess.run(
        ["git", "-C", str(tmp_path / "clone"), "remote", "get-url", "origin"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert origin == repo.as_uri()
    with pytest.raises(UpstreamError, match="git ref nope not found"):
        fetch_git(tmp_path / "cache", GitUpstream(repo.as_uri(), "nope"), tmp_path / "c2", print)


def test_upstream_version_warning(tmp_path: Path) -> None:
    (tmp_path / "stone.yaml").write_text(
        "name: a\nversion: 1.1\nrelease: 1\nhomepage: h\nlicense: MIT\n"
        "upstreams:\n  - https://example.com/a-1.2.tar.xz: abcdef\n"
    )
    recipe = load_recipe(tmp_path / "stone.yaml").recipe
    assert version_mismatch(recipe) == (
        "Warning | 'version' and first parsed upstream version do not match. "
        "Expected: 1.2, got: 1.1"
    )
    assert upstream_version("https://x/v1.2.3.tar.gz") == "1.2.3"
    assert upstream_version("https://x/foo.tar.gz") is None


def test_upstream_names_stay_inside(tmp_path: Path) -> None:
    check_names(
        (
            PlainUpstream("https://x/a.tar.gz", "abcdef", unpackdir="a/b/"),
            GitUpstream("https://x/r.git", "v1", clonedir="llvm/projects/x"),
        )
    )
    for bad in (
        PlainUpstream("https://x/a.tar.gz", "abcdef", rename="../a.tar.gz"),
        PlainUpstream("https://x/a.tar.gz", "abcdef", unpackdir="../../etc"),
        PlainUpstream("https://x/a.tar.gz", "abcdef", unpackdir="/etc"),
        GitUpstream("https://x/", "v1"),
    ):
        with pytest.raises(UpstreamError, match="is not a plain file or directory name"):
            check_names((bad,))


def test_member_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("safe")
    archive = _tar(
        tmp_path / "a.tar.gz", [_link("top/x", str(victim)), _file("top/x", b"overwritten")]
    )
    unpack(archive, tmp_path / "out", 1)
    assert victim.read_text() == "safe"
    assert (tmp_path / "out/x").read_bytes() == b"overwritten"


def test_http_upstream_is_downloaded_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server is on the loopback interface: a proxy from the environment must not be used.
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    served = tmp_path / "served"
    served.mkdir()
    (served / "a-1.0.tar.gz").write_bytes(b"over http")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        upstream = PlainUpstream(f"{base}/a-1.0.tar.gz", sha256(served / "a-1.0.tar.gz"))
        cached = fetch_plain(tmp_path / "cache", upstream, lambda _line: None)
        assert cached.read_bytes() == b"over http"
        with pytest.raises(UpstreamError, match=r"cannot fetch .*/missing.tar.gz: HTTP 404 "):
            fetch_plain(
                tmp_path / "cache", PlainUpstream(f"{base}/missing.tar.gz", "ab" * 32), print
            )
    finally:
        server.shutdown()
        server.server_close()


def _recipe_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "recipe"
    (directory / "files").mkdir(parents=True)
    return directory


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/shadow",
        "file:///etc/passwd",
        "file://localhost/etc/shadow",
        "/etc/shadow",  # git takes a path
        "../outside.git",  # relative to where boulder runs, which is outside
        "file:///RECIPE/../outside.tar.gz",
        "file:///RECIPE/files/escape",  # a symlink out
    ],
)
def test_local_upstreams_outside_the_recipe_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    recipe = _recipe_dir(tmp_path)
    (recipe / "files" / "escape").symlink_to("/etc/shadow")
    monkeypatch.chdir(recipe)
    url = url.replace("/RECIPE", str(recipe))
    upstream = (
        GitUpstream(url, "main") if not url.startswith("file:") else PlainUpstream(url, "ab" * 32)
    )
    with pytest.raises(UpstreamError) as caught:
        check_local((upstream,), recipe, allow=False)
    message = str(caught.value)
    assert message == (
        f"upstream: {url}: a local upstream outside the recipe's directory ({recipe}); "
        "allow such upstreams with `boulder build --allow-local-upstreams`"
    )
    check_local((upstream,), recipe, allow=True)


def test_local_upstreams_inside_the_recipe_and_remote_ones_pass(tmp_path: Path) -> None:
    recipe = _recipe_dir(tmp_path)
    (recipe / "files" / "a.tar.gz").write_bytes(b"a")
    (recipe / "files" / "link").symlink_to("a.tar.gz")
    check_local(
        (
            PlainUpstream((recipe / "files" / "a.tar.gz").as_uri(), "ab" * 32),
            PlainUpstream((recipe / "files" / "link").as_uri(), "ab" * 32),
            PlainUpstream("https://example.org/a.tar.gz", "ab" * 32),
            GitUpstream("https://example.org/a.git", "main"),
            GitUpstream("git@example.org:a/b.git", "main"),
            GitUpstream(str(recipe / "files"), "main"),
        ),
        recipe,
        allow=False,
    )


def test_the_cached_copy_of_a_local_file_is_no_more_readable_than_the_file(
    tmp_path: Path,
) -> None:
    recipe = _recipe_dir(tmp_path)
    for mode in (0o600, 0o640, 0o644, 0o755, 0o400):
        source = recipe / "files" / f"secret-{mode:o}"
        source.write_bytes(f"only for some {mode}".encode())
        source.chmod(mode)
        upstream = PlainUpstream(source.as_uri(), sha256(source))
        cached = fetch_plain(tmp_path / "cache", upstream, lambda _line: None)
        assert cached.read_bytes() == source.read_bytes()
        assert cached.stat().st_mode & 0o777 == mode & 0o644, oct(mode)


def test_a_wrong_hash_for_a_refused_upstream_reveals_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = _recipe_dir(tmp_path)
    secret = tmp_path / "secret"
    secret.write_bytes(b"the real content")
    secret.chmod(0o600)
    (recipe / "stone.yaml").write_text(
        RECIPE_WITH_UPSTREAM.format(url=secret.as_uri()), encoding="utf-8"
    )
    (tmp_path / "out").mkdir()
    argv = ["build", str(recipe / "stone.yaml"), "-o", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--cache-dir", str(tmp_path / "cache")])
    assert exited.value.code != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "outside the recipe's directory" in err, err
    assert sha256(secret) not in err
    assert not (tmp_path / "cache" / "upstreams").exists() or not [
        p for p in (tmp_path / "cache" / "upstreams").rglob("*") if p.is_file()
    ]


RECIPE_WITH_UPSTREAM = """\
name: secret
version: 1.0
release: 1
homepage: https://example.org
license: MPL-2.0
summary: reads a file it should not
description: reads a file it should not
upstreams:
  - {url}:
      hash: abababababababababababababababababababababababababababababababab
      unpack: false
install: |
  install -Dm644 %(sourcedir)/secret %(installroot)/usr/share/secret
"""


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (Fault(endless=True), "larger than 100000 bytes (max-download-size)"),
        (Fault(trickle=0.2), "transfer too slow: less than 100 bytes/s for 0.5 s"),
        (Fault(redirect="file:///etc/shadow"), "redirected to file:///etc/shadow, which is not"),
        (Fault(redirect="/a-1.0.tar.gz"), "too many redirects (stopped after 10)"),
    ],
)
def test_http_upstreams_have_moss_limits(tmp_path: Path, fault: Fault, problem: str) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "a-1.0.tar.gz").write_bytes(b"over http")
    limits = TransferLimits(speed_limit=100, speed_time=0.5, max_download_bytes=100_000)
    for server in serving(served):
        server.fault("a-1.0.tar.gz", *[fault] * 12)
        url = server.url("a-1.0.tar.gz")
        with pytest.raises(UpstreamError) as caught:
            fetch_plain(tmp_path / "cache", PlainUpstream(url, "ab" * 32), print, limits)
        assert str(caught.value).startswith(f"upstream: cannot fetch {url}: {problem}")
        assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]

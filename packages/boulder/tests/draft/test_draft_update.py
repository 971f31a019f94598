"""`boulder recipe update` on copies of real corpus recipes: version, upstreams, hashes and
release change; every other byte of the file stays."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loopback_http import LoopbackServer

from boulder.recipe.load import load_recipe
from moss_core.fs import sha256_file

from ..conftest import CORPUS, run


def corpus_copy(relative: str, into: Path) -> tuple[Path, str]:
    source = CORPUS / "recipes" / relative / "stone.yaml"
    if not source.is_file():
        pytest.skip(f"real recipe corpus not found at {CORPUS}/recipes (it lives beside the repo)")
    target = into / "recipe" / "stone.yaml"
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)
    return target, source.read_text(encoding="utf-8")


def one_replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def update(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    return run(capsys, "--cache-dir", str(tmp_path / "cache"), "recipe", "update", *args)


def test_plain_upstream_version_from_its_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe, original = corpus_copy("n/nano", tmp_path)
    new = tmp_path / "dl" / "nano-9.3.tar.xz"
    new.parent.mkdir()
    new.write_bytes(b"nano 9.3 sources")
    code, out, err = update(capsys, tmp_path, str(recipe.parent), "-u", new.as_uri())
    assert (code, err) == (0, "")
    assert out == f"{recipe}: nano updated from 9.2 to 9.3, release 42 to 43\n"
    expected = one_replaced(original, 'version     : "9.2"', 'version     : "9.3"')
    expected = one_replaced(expected, "release     : 42", "release     : 43")
    expected = one_replaced(
        expected,
        "https://www.nano-editor.org/dist/v9/nano-9.2.tar.xz : "
        "05ecb99247b782e8a5b3a25ed4101dd034b0236902f7449bc9795b717642f7e9",
        f"{new.as_uri()} : {sha256_file(new)}",
    )
    assert recipe.read_text(encoding="utf-8") == expected
    assert load_recipe(recipe).recipe.version == "9.3"


def test_map_upstreams_keep_their_other_keys_and_no_bump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe, original = corpus_copy("b/broadcom-sta-module", tmp_path)
    first, second = tmp_path / "driver-6.31.tar.gz", tmp_path / "README.txt"
    first.write_bytes(b"driver")
    second.write_bytes(b"readme")
    out = tmp_path / "out.yaml"
    code, _, err = update(
        capsys, tmp_path, str(recipe), "--ver", "6.31", "-u", first.as_uri(),
        "-u", second.as_uri(), "--no-bump", "-o", str(out),
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert recipe.read_text(encoding="utf-8") == original
    expected = one_replaced(original, '"6.30.223.271"', '"6.31"')
    expected = one_replaced(
        expected,
        "https://docs.broadcom.com/docs-and-downloads/docs/linux_sta/"
        "hybrid-v35_64-nodebug-pcoem-6_30_223_271.tar.gz:",
        f"{first.as_uri()}:",
    )
    expected = one_replaced(
        expected,
        "https://salsa.debian.org/broadcom-sta-team/broadcom-sta/-/raw/debian/README.txt:",
        f"{second.as_uri()}:",
    )
    expected = one_replaced(
        expected,
        "hash: 5f79774d5beec8f7636b59c0fb07a03108eef1e3fd3245638b20858c714144be",
        f"hash: {sha256_file(first)}",
    )
    expected = one_replaced(
        expected,
        "hash: 4d6d63f6eb40f84359be06f1f6f26075827a0d25cdaa364d8ccb6561bf162e34",
        f"hash: {sha256_file(second)}",
    )
    assert out.read_text(encoding="utf-8") == expected


def test_version_alone_follows_into_urls_over_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    recipe, real = corpus_copy("m/maven", tmp_path)
    served = tmp_path / "served"
    tarball = served / "maven/maven-3/3.9.17/source/apache-maven-3.9.17-src.tar.gz"
    tarball.parent.mkdir(parents=True)
    tarball.write_bytes(b"maven 3.9.17")
    server = LoopbackServer(served)
    server.start()
    try:
        # The test's own step: the recipe's server is this loopback one.
        original = real.replace("https://dlcdn.apache.org/", server.url())
        recipe.write_text(original, encoding="utf-8")
        code, out, err = update(capsys, tmp_path, str(recipe), "--ver", "3.9.17")
    finally:
        server.stop()
    assert (code, err) == (0, ""), err
    assert out.endswith("maven updated from 3.9.16 to 3.9.17, release 3 to 4\n")
    old_url = server.url("maven/maven-3/3.9.16/source/apache-maven-3.9.16-src.tar.gz")
    expected = one_replaced(original, "version     : 3.9.16", "version     : 3.9.17")
    expected = one_replaced(expected, "release     : 3", "release     : 4")
    expected = one_replaced(expected, f"{old_url}:", f"{old_url.replace('3.9.16', '3.9.17')}:")
    expected = one_replaced(
        expected,
        "hash: f7031b091ad75a226a06a0c092cbf05860dcfc16d140e6da997e6c6b62dbd03c",
        f"hash: {sha256_file(tarball)}",
    )
    assert recipe.read_text(encoding="utf-8") == expected
    # The commented-out bootstrap upstream, with its own version, is left alone.
    assert "# - " + server.url("maven/maven-3/3.9.14/") in expected


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def test_git_ref(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipe, real = corpus_copy("a/accounts-qml-module", tmp_path)
    repo = tmp_path / "accounts-qml-module.git"
    repo.mkdir()
    (repo / "README").write_text("one\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    _git(repo, "tag", "VERSION_0.8")
    # The test's own step: the recipe's repository is this local one.
    original = real.replace(
        "https://gitlab.com/accounts-sso/accounts-qml-module.git", repo.as_uri()
    )
    recipe.write_text(original, encoding="utf-8")

    code, _, err = update(capsys, tmp_path, str(recipe), "-u", "git|no-such-tag", "--ver", "0.8")
    assert code == 1
    assert err == f"boulder: error: upstream: git ref no-such-tag not found in {repo.as_uri()}\n"
    assert recipe.read_text(encoding="utf-8") == original

    code, _, err = update(capsys, tmp_path, str(recipe), "-u", "git|VERSION_0.8")
    assert code == 1 and "cannot tell the version from 'git|VERSION_0.8': give --ver" in err

    code, _, err = update(capsys, tmp_path, str(recipe), "-u", "git|VERSION_0.8", "--ver", "0.8")
    assert (code, err) == (0, "")
    expected = one_replaced(original, '"0.7+git.05e79ebb"', '"0.8"')
    expected = one_replaced(expected, "release     : 2", "release     : 3")
    expected = one_replaced(expected, ": 05e79ebbbf3784a87f72b7be571070125c10dfe3", ": VERSION_0.8")
    assert recipe.read_text(encoding="utf-8") == expected


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("- just\n- a list\n", ("--ver", "2"), "expected a map of recipe keys"),
        ("name: x\nversion: 1\n", ("--ver", "2"), "release"),
        ("name: [x\n", ("--ver", "2"), "invalid YAML"),
        (None, (), "nothing to update: give --ver, -u or both"),
        (None, ("-u", "git|v2", "--ver", "2"), "upstream 1 is a plain upstream; 'git|v2' is a git"),
        (None, ("-u", "a", "-u", "b", "--ver", "2"), "2 upstreams given, the recipe has 1"),
        (None, ("-u", "file:///nonexistent/x-2.tar.gz"), "cannot fetch file:///nonexistent/"),
    ],
)
def test_errors_leave_the_recipe_alone(
    text: str | None,
    args: tuple[str, ...],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if text is None:
        recipe, original = corpus_copy("n/nano", tmp_path)
    else:
        recipe = tmp_path / "stone.yaml"
        recipe.write_text(text)
        original = text
    code, out, err = update(capsys, tmp_path, str(recipe), *args)
    assert code == 1 and out == ""
    assert err.startswith(f"boulder: error: {recipe}") or err.startswith("boulder: error: "), err
    assert message in err and err.count("\n") == 1, err
    assert recipe.read_text(encoding="utf-8") == original


def test_missing_recipe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = update(capsys, tmp_path, str(tmp_path / "nope"), "--ver", "2")
    assert code == 1
    assert err == f'boulder: error: recipe file does not exist: "{tmp_path / "nope"}"\n'


def test_quoting_and_comments_of_hand_written_recipes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tarball = tmp_path / "x-1.10.tar.gz"
    tarball.write_bytes(b"x")
    recipe = tmp_path / "stone.yaml"
    original = (
        "name: x\n"
        "version: 1.9  # the last good one\n"
        "release: 7\n"
        "homepage: h\n"
        "license: MIT\n"
        "upstreams:\n"
        "  - 'https://example.org/x-1.9.tar.gz': {hash: '"
        + "0" * 64
        + "', stripdirs: 2}  # mirror\n"
    )
    recipe.write_text(original)
    code, _, err = update(capsys, tmp_path, str(recipe), "-u", tarball.as_uri())
    assert (code, err) == (0, "")
    assert recipe.read_text() == (
        "name: x\n"
        'version: "1.10"  # the last good one\n'
        "release: 8\n"
        "homepage: h\n"
        "license: MIT\n"
        "upstreams:\n"
        f"  - '{tarball.as_uri()}': {{hash: '{sha256_file(tarball)}', stripdirs: 2}}  # mirror\n"
    )
    assert load_recipe(recipe).recipe.version == "1.10"


def test_written_values_read_back_as_strings(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    from boulder.draft.update import update_text

    text = "name: x\nversion: 1.0\nrelease: 1\nupstreams:\n  - https://h/x-1.0.tar.gz: abc\n"
    file = tmp_path / "stone.yaml"
    document = YAML(typ="rt").load(text)
    digits = "1" * 64
    change = update_text(
        text, document, file, version="2", sources=["https://h/x #2.tar.gz"], bump=True,
        fetch_hash=lambda url: digits, check_ref=lambda url, ref: None,
    )  # fmt: skip
    assert change.text == (
        f'name: x\nversion: "2"\nrelease: 2\nupstreams:\n  - "https://h/x #2.tar.gz": "{digits}"\n'
    )
    reread = YAML(typ="safe").load(change.text)
    assert reread["version"] == "2"
    assert reread["upstreams"] == [{"https://h/x #2.tar.gz": digits}]


_VERSIONS = st.from_regex(r"[0-9][0-9a-z.+~_]{0,12}", fullmatch=True)
_URLS = st.from_regex(r"https://[a-z0-9.-]{1,12}/[A-Za-z0-9._/%~+#: -]{1,30}", fullmatch=True)
_QUOTES = st.sampled_from(["", "'", '"'])


@settings(max_examples=40, deadline=None)
@given(
    version=_VERSIONS, url=_URLS, digest=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    version_quote=_QUOTES, url_quote=_QUOTES, bump=st.booleans(),
)  # fmt: skip
def test_update_changes_exactly_the_values(
    version: str, url: str, digest: str, version_quote: str, url_quote: str, bump: bool
) -> None:
    from ruamel.yaml import YAML

    from boulder.draft.update import update_text

    q, u = version_quote, url_quote
    text = (
        "# a comment: with colons\n"
        f"name        : x  # trailing\nversion     : {q}1.0{q}\nrelease     : 3\n"
        f"upstreams   :\n    - {u}https://h/x-1.0.tar.gz{u} : {'0' * 64}  # pinned\n"
        "summary     : s\n"
    )
    change = update_text(
        text, YAML(typ="rt").load(text), Path("stone.yaml"), version=version, sources=[url],
        bump=bump, fetch_hash=lambda _url: digest, check_ref=lambda _url, _ref: None,
    )  # fmt: skip
    reread = YAML(typ="safe").load(change.text)
    assert reread["version"] == version
    assert reread["release"] == (4 if bump else 3)
    assert reread["upstreams"] == [{url: digest}]
    old_lines, new_lines = text.splitlines(), change.text.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = {i for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if a != b}
    assert changed <= {2, 3, 5}
    assert new_lines[5].endswith("  # pinned") and digest in new_lines[5]

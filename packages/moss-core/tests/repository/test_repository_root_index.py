"""Root-index repositories: the version lookup, refreshing through it, and their configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from root_index import write_root_index

from moss_core.installation import Installation
from moss_core.repository import (
    Repository,
    RepositoryConfig,
    RepositoryError,
    RootIndex,
    build_index,
    fetch_package,
    open_source,
    refresh,
    repo_state_dir,
)
from moss_core.repository._model import is_identifier
from moss_core.repository.root_index import snapshot_of

from .repo_helpers import make_stone

URI = "https://cdn.example.org/main/moss-root-index.json"
DOCUMENT = {
    "formats": {"v0": {"upgrade_via": "tag/bridge"}},
    "streams": {"unstable": {"format": "v0", "history": "h2"}, "old": {"format": "x"}},
    "tags": {"bridge": {"format": "v0", "history": "h1"}, "evil": {"history": "../../etc"}},
    "history": {"h1": {"format": "legacy"}, "h2": {"format": "v0"}, "h3": {"format": "v9"}},
}


@pytest.mark.parametrize(
    ("version", "snapshot"),
    [("stream/unstable", "h2"), ("tag/bridge", "h1"), ("history/h1", "h1")],
)
def test_a_version_names_a_snapshot(version: str, snapshot: str) -> None:
    assert snapshot_of(DOCUMENT, RootIndex(version), URI) == snapshot


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("stream/nope", "there is no stream 'nope'"),
        ("stream/old", "stream/old names no valid snapshot: None"),
        ("tag/evil", "tag/evil names no valid snapshot: '../../etc'"),
        ("history/h9", "history/h9 names 'h9', which is not in history"),
        ("history/h3", "in index format 'v9', which this moss does not read"),
    ],
)
def test_what_cannot_be_followed_is_an_error_naming_the_root_index(
    version: str, problem: str
) -> None:
    with pytest.raises(RepositoryError, match=f"^{URI}: ") as caught:
        snapshot_of(DOCUMENT, RootIndex(version), URI)
    assert problem in str(caught.value)


def test_a_format_too_new_names_the_version_to_upgrade_through() -> None:
    with pytest.raises(
        RepositoryError, match=r"; upgrade through tag/bridge \(snapshot h1\) first$"
    ):
        snapshot_of(DOCUMENT, RootIndex("history/h3"), URI)
    circular = {**DOCUMENT, "formats": {"v0": {"upgrade_via": "history/h3"}}}
    with pytest.raises(RepositoryError, match=r"does not read \(it reads legacy, v0\)$"):
        snapshot_of(circular, RootIndex("history/h3"), URI)
    with pytest.raises(RepositoryError, match="not a root index: no 'streams' object"):
        snapshot_of({"history": {}}, RootIndex("stream/x"), URI)
    with pytest.raises(RepositoryError, match="not a root index: no 'history' object"):
        snapshot_of([], RootIndex("history/x"), URI)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"version": "unstable"}, "must be stream/NAME, tag/NAME or history/NAME"),
        ({"version": "stream/-x"}, "must be stream/NAME"),
        ({"version": "stream/a", "channel": "a/b"}, "channel 'a/b'"),
        ({"version": "stream/a", "arch": "../x"}, "arch '../x'"),
    ],
)
def test_root_index_fields_are_checked(fields: dict[str, str], problem: str) -> None:
    with pytest.raises(RepositoryError, match=problem):
        RootIndex(**fields)


def _publish(base: Path, snapshot: str, names: list[str], stream: str = "unstable") -> None:
    """A snapshot's packages and index under `base`, and the root index naming it."""
    directory = base / "main" / "history" / snapshot / "x86_64"
    for name in names:
        make_stone(directory, name)
    build_index(directory)
    write_root_index(base, stream, snapshot)


def test_refresh_follows_the_stream_and_packages_come_from_its_snapshot(
    installation: Installation, tmp_path: Path
) -> None:
    base = tmp_path / "cdn"
    _publish(base, "h1", ["foo"])
    repo = Repository("volatile", base.as_uri(), 0, root_index=RootIndex("stream/unstable"))
    assert refresh(installation, repo) == 1
    state = repo_state_dir(installation, repo)
    first = (base / "main/history/h1/x86_64/stone.index").as_uri()
    assert (state / "index-uri").read_text() == f"{first}\n"

    _publish(base, "h2", ["foo", "bar"])  # the stream moves on
    assert refresh(installation, repo) == 2
    second = (base / "main/history/h2/x86_64/stone.index").as_uri()
    assert (state / "index-uri").read_text() == f"{second}\n"
    source = open_source(installation, repo)
    try:
        assert source.index_uri == second
        bar = next(p for p in source.all() if p.name == "bar")
        assert source.package_uri(bar).startswith(second.rpartition("/")[0] + "/")
        assert fetch_package(installation, source, bar).exists()
    finally:
        source.close()


def test_a_root_index_repository_is_configured_and_keyed_as_upstream_does(
    installation: Installation,
) -> None:
    root_index = RootIndex("stream/volatile", channel="main", arch="x86_64")
    repo = Repository("volatile", "https://cdn.aerynos.dev/", 0, "CDN", root_index=root_index)
    config = RepositoryConfig.load(installation)
    config.add(repo)
    written = (installation.root / "etc/moss/repo.d/volatile.kdl").read_text()
    assert 'base-uri "https://cdn.aerynos.dev/"' in written
    assert 'version "stream/volatile"' in written
    assert RepositoryConfig.load(installation).get("volatile") == repo
    assert repo.describe() == (
        "(base-uri=https://cdn.aerynos.dev/, channel=main, version=stream/volatile, arch=x86_64)"
    )
    key = xxhash.xxh3_64_intdigest(b"moss-https://cdn.aerynos.dev/-main-stream/volatile-x86_64")
    assert repo.key() == format(key, "x")
    assert repo.root_index_uri() == "https://cdn.aerynos.dev/main/moss-root-index.json"
    assert repo.history_index_uri("h7") == (
        "https://cdn.aerynos.dev/main/history/h7/x86_64/stone.index"
    )


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_names = st.sampled_from(["a", "h1", "../x", "", "b-2"])
_versions = st.sampled_from(["stream/a", "tag/b-2", "history/h1", "history/a", "nope"])
_tables = st.dictionaries(
    _names,
    st.fixed_dictionaries(
        {}, optional={"history": _names | _json, "format": st.sampled_from(["v0", "v9"]) | _json}
    ),
)


@settings(max_examples=300)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "streams": _tables,
            "tags": _tables,
            "history": _tables,
            "formats": st.fixed_dictionaries(
                {"v0": st.fixed_dictionaries({"upgrade_via": _versions | _json})}
            ),
        },
    )
    | _json,
    _versions.filter(lambda version: "/" in version),
)
def test_any_document_gives_a_safe_snapshot_or_a_repository_error(
    document: object, version: str
) -> None:
    try:
        snapshot = snapshot_of(document, RootIndex(version), URI)
    except RepositoryError as err:
        assert str(err).startswith(f"{URI}: ")
    else:
        assert is_identifier(snapshot)

"""Repository configuration: files, precedence, warnings, and the files moss writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import xxhash

from moss_core.installation import Installation
from moss_core.repository import (
    Repository,
    RepositoryConfig,
    RepositoryError,
    normalise_uri,
    sanitise_name,
    to_uri,
)

LOCAL_KDL = """\
local {
    description "Local packages"
    uri "file:///srv/repo/stone.index"
    priority 10
    active #true
}
"""


def write(installation: Installation, relative: str, text: str) -> Path:
    path = installation.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_add_writes_the_file_as_upstream_does(installation: Installation) -> None:
    config = RepositoryConfig.load(installation)
    config.add(Repository("local", "file:///srv/repo/stone.index", 10, "Local packages"))

    path = installation.root / "etc/moss/repo.d/local.kdl"
    assert path.read_text() == LOCAL_KDL
    assert [p.name for p in path.parent.iterdir()] == ["local.kdl"]
    assert config.repositories() == [
        Repository("local", "file:///srv/repo/stone.index", 10, "Local packages", True)
    ]
    assert RepositoryConfig.load(installation).get("local") == config.get("local")
    assert config.file_of("local") == path
    assert config.warnings == []


def test_add_list_disable_enable_remove_round_trip(installation: Installation) -> None:
    config = RepositoryConfig.load(installation)
    config.add(Repository("one", "file:///a/stone.index", 5))
    config.add(Repository("two", "file:///b/stone.index", 20, "second"))
    assert [r.id for r in config.repositories()] == ["two", "one"]

    config.set_active("two", False)
    reloaded = RepositoryConfig.load(installation)
    two = reloaded.get("two")
    assert two is not None and not two.active and two.description == "second"
    assert "    active #false\n" in (installation.root / "etc/moss/repo.d/two.kdl").read_text()

    reloaded.set_active("two", True)
    two = RepositoryConfig.load(installation).get("two")
    assert two is not None and two.active

    state = installation.repo_dir / Repository("one", "file:///a/stone.index", 5).key()
    state.mkdir()
    (state / "db").write_bytes(b"")
    reloaded.remove("one")
    assert not (installation.root / "etc/moss/repo.d/one.kdl").exists()
    assert not state.exists()
    assert [r.id for r in RepositoryConfig.load(installation).repositories()] == ["two"]


def test_unknown_repository(installation: Installation) -> None:
    config = RepositoryConfig.load(installation)
    with pytest.raises(RepositoryError, match=r"^nope not found$"):
        config.remove("nope")
    with pytest.raises(RepositoryError, match=r"^nope not found$"):
        config.set_active("nope", False)
    assert config.get("nope") is None and config.file_of("nope") is None


def test_yaml_and_kdl_files_are_both_read(installation: Installation) -> None:
    write(
        installation,
        "etc/moss/repo.d/remote.yaml",
        'remote: {description: "Remote", uri: "https://example.org/x86_64/stone.index",'
        " priority: 0}\nother:\n  uri: file:///o/stone.index\n  priority: 3\n  active: false\n",
    )
    write(installation, "usr/share/moss/repo.kdl", LOCAL_KDL)

    config = RepositoryConfig.load(installation)

    assert config.warnings == []
    assert config.repositories() == [
        Repository("local", "file:///srv/repo/stone.index", 10, "Local packages"),
        Repository("other", "file:///o/stone.index", 3, "", False),
        Repository("remote", "https://example.org/x86_64/stone.index", 0, "Remote"),
    ]


def test_priority_desc_then_id_asc(installation: Installation) -> None:
    text = "".join(
        f'{name} {{ uri "file:///{name}/stone.index"; priority {prio} }}\n'
        for name, prio in [("b", 1), ("c", 7), ("a", 1), ("d", 0), ("e", 7)]
    )
    write(installation, "etc/moss/repo.kdl", text)
    assert [r.id for r in RepositoryConfig.load(installation).repositories()] == list("ceabd")


def test_etc_wins_over_usr_share(installation: Installation) -> None:
    # Names chosen so that file order alone would pick the usr/share definition.
    write(
        installation,
        "etc/moss/repo.d/aaa.kdl",
        'local { uri "file:///etc/stone.index"; priority 1 }',
    )
    write(
        installation,
        "usr/share/moss/repo.d/zzz.yaml",
        "local: {uri: file:///vendor/stone.index, priority: 50}\n"
        "vendor: {uri: file:///vendor/stone.index, priority: 50}\n",
    )
    config = RepositoryConfig.load(installation)
    local = config.get("local")
    assert local is not None and local.uri == "file:///etc/stone.index"
    assert config.file_of("local") == installation.root / "etc/moss/repo.d/aaa.kdl"
    assert [r.id for r in config.repositories()] == ["vendor", "local"]


def test_the_file_moss_writes_wins_within_a_tree(installation: Installation) -> None:
    write(
        installation,
        "etc/moss/repo.d/zzz.kdl",
        'local { uri "file:///zzz/stone.index"; priority 1 }',
    )
    config = RepositoryConfig.load(installation)
    config.set_active("local", False)
    local = RepositoryConfig.load(installation).get("local")
    assert local is not None and not local.active and local.uri == "file:///zzz/stone.index"


def test_later_files_win_within_a_tree(installation: Installation) -> None:
    write(installation, "etc/moss/repo.kdl", 'x { uri "file:///first/stone.index"; priority 1 }')
    write(
        installation, "etc/moss/repo.d/a.kdl", 'x { uri "file:///second/stone.index"; priority 1 }'
    )
    write(
        installation, "etc/moss/repo.d/b.yaml", "x: {uri: file:///third/stone.index, priority: 1}"
    )
    x = RepositoryConfig.load(installation).get("x")
    assert x is not None and x.uri == "file:///third/stone.index"


def test_kdl_hides_yaml_of_the_same_name(installation: Installation) -> None:
    write(
        installation,
        "etc/moss/repo.d/r.yaml",
        "fromyaml: {uri: file:///y/stone.index, priority: 1}",
    )
    write(
        installation, "etc/moss/repo.d/r.kdl", 'fromkdl { uri "file:///k/stone.index"; priority 1 }'
    )
    assert [r.id for r in RepositoryConfig.load(installation).repositories()] == ["fromkdl"]


def test_unparsable_files_and_bad_entries_are_reported(installation: Installation) -> None:
    broken_kdl = write(installation, "etc/moss/repo.d/broken.kdl", 'local {\n  uri "file:///x\n}')
    broken_yaml = write(installation, "etc/moss/repo.d/broken2.yaml", "a: [unclosed\n")
    not_a_map = write(installation, "etc/moss/repo.d/list.yaml", "- a\n- b\n")
    entries = write(
        installation,
        "usr/share/moss/repo.kdl",
        'good { uri "file:///g/stone.index"; priority 1; colour "blue" }\n'
        'nopriority { uri "file:///n/stone.index" }\n'
        'badprio { uri "file:///n/stone.index"; priority -1 }\n'
        'floatprio { uri "file:///n/stone.index"; priority 1.5 }\n'
        'badactive { uri "file:///n/stone.index"; priority 1; active "yes" }\n'
        "nouri { priority 1 }\n"
        'relative { uri "stone.index"; priority 1 }\n'
        'ftp { uri "ftp://example.org/stone.index"; priority 1 }\n'
        'twovalues { uri "file:///a" "file:///b"; priority 1 }\n'
        'inline uri="file:///x/stone.index" priority=1\n'
        'rootindex { base-uri "https://cdn.example.org"; version "stream"; priority 1 }\n',
    )

    config = RepositoryConfig.load(installation)

    assert [r.id for r in config.repositories()] == ["good"]
    warnings = config.warnings
    assert warnings[0] == f"{entries}:1: repository 'good': unknown field 'colour' ignored"
    expected_fragments = [
        "'nopriority': priority is required; ignored",
        "'badprio': badprio: priority must be a whole number from 0 to",
        "'floatprio': priority must be a whole number, not 1.5; ignored",
        "'badactive': active must be true or false, not 'yes'; ignored",
        "'nouri': uri is required and must be a string; ignored",
        "'relative': stone.index: not a repository URI",
        "'ftp': ftp://example.org/stone.index: not a repository URI",
        "'twovalues': uri takes exactly one value; repository ignored",
        "'inline': fields must be child nodes; ignored",
        "'rootindex': version 'stream' must be stream/NAME, tag/NAME or history/NAME",
    ]
    for warning, fragment in zip(warnings[1:11], expected_fragments, strict=True):
        assert fragment in warning, warning
    assert warnings[11].startswith(f"{broken_kdl}:2:17: newline inside a string")
    assert warnings[11].endswith("; file ignored")
    assert warnings[12].startswith(f"{broken_yaml}:2: ")
    assert warnings[13] == f"{not_a_map}: expected a map of repository names; file ignored"
    assert len(warnings) == 14


def test_repository_defined_only_under_usr_share_cannot_be_removed(
    installation: Installation,
) -> None:
    vendor = write(installation, "usr/share/moss/repo.d/vendor.kdl", LOCAL_KDL)
    config = RepositoryConfig.load(installation)
    config.set_active("local", False)

    with pytest.raises(
        RepositoryError, match=f"local cannot be removed: it is defined in {vendor}"
    ):
        config.remove("local")
    # Nothing was deleted: the disabling override is still in force.
    local = RepositoryConfig.load(installation).get("local")
    assert local is not None and not local.active


def test_remove_keeps_state_shared_with_another_repository(installation: Installation) -> None:
    config = RepositoryConfig.load(installation)
    config.add(Repository("one", "file:///same/stone.index", 1))
    config.add(Repository("two", "file:///same/stone.index", 2))
    state = installation.repo_dir / Repository("x", "file:///same/stone.index", 0).key()
    state.mkdir()
    config.remove("one")
    assert state.is_dir()
    config.remove("two")
    assert not state.exists()


def test_add_with_a_new_uri_drops_the_old_state(installation: Installation) -> None:
    config = RepositoryConfig.load(installation)
    old = Repository("r", "file:///old/stone.index", 1)
    config.add(old)
    (installation.repo_dir / old.key()).mkdir()
    config.add(Repository("r", "file:///new/stone.index", 1))
    assert not (installation.repo_dir / old.key()).exists()
    r = config.get("r")
    assert r is not None and r.uri == "file:///new/stone.index"


def test_names_moss_writes_must_be_sanitised(installation: Installation) -> None:
    config = RepositoryConfig.load(installation)
    with pytest.raises(RepositoryError, match="try '___evil'"):
        config.add(Repository("../evil", "file:///x/stone.index", 1))
    assert not (installation.root / "etc/moss/evil.kdl").exists()
    write(
        installation, "etc/moss/repo.kdl", '"my repo" { uri "file:///m/stone.index"; priority 1 }'
    )
    config = RepositoryConfig.load(installation)
    assert config.get("my repo") is not None
    with pytest.raises(RepositoryError, match="try 'my_repo'"):
        config.set_active("my repo", False)


def test_sanitise_name() -> None:
    assert sanitise_name("my-repo") == "my-repo"
    assert sanitise_name("My Repo/2.0") == "My_Repo_2_0"
    assert sanitise_name("../../etc") == "______etc"
    assert sanitise_name("dépôt") == "dépôt"


def test_key_is_unpadded_xxh3_of_the_uri() -> None:
    repo = Repository("local", "file:///srv/repo/stone.index", 0)
    assert repo.key() == format(xxhash.xxh3_64_intdigest(b"moss-file:///srv/repo/stone.index"), "x")
    # Find a URI whose hash has a leading zero nibble: its key is shorter than 16 digits.
    short = next(
        uri
        for i in range(1000)
        if xxhash.xxh3_64_intdigest(f"moss-{(uri := f'file:///r{i}/stone.index')}".encode())
        < 1 << 60
    )
    key = Repository("r", short, 0).key()
    assert len(key) < 16 and not key.startswith("0")


def test_uris() -> None:
    assert to_uri("/srv/my repo/stone.index") == "file:///srv/my%20repo/stone.index"
    assert to_uri("file:///srv/repo/stone.index") == "file:///srv/repo/stone.index"
    assert normalise_uri("FILE://localhost/a/./b/../stone.index") == "file:///a/stone.index"
    assert (
        normalise_uri("HTTPS://Example.ORG:443/x/stone.index")
        == "https://example.org/x/stone.index"
    )
    assert normalise_uri("http://example.org:8080") == "http://example.org:8080/"
    assert Repository("p", "/srv/r/stone.index", 1).uri == "file:///srv/r/stone.index"
    for bad in (
        "stone.index",
        "ftp://x/stone.index",
        "file://server/share/stone.index",
        "http:///x",
    ):
        with pytest.raises(RepositoryError):
            to_uri(bad)


def test_repository_validation() -> None:
    with pytest.raises(RepositoryError, match="needs a name"):
        Repository("", "file:///x", 1)
    with pytest.raises(RepositoryError, match="priority must be a whole number"):
        Repository("x", "file:///x", 1 << 64)
    assert Repository("x", "file:///x", (1 << 64) - 1).priority == (1 << 64) - 1


def test_writing_never_drops_repositories_sharing_the_file(installation: Installation) -> None:
    shared = write(
        installation,
        "etc/moss/repo.d/local.yaml",
        "local: {uri: file:///l/stone.index, priority: 1}\n"
        "extra: {uri: file:///e/stone.index, priority: 1}\n",
    )
    config = RepositoryConfig.load(installation)
    with pytest.raises(RepositoryError, match=f"{shared} also defines extra"):
        config.set_active("local", False)
    with pytest.raises(RepositoryError, match=f"{shared} also defines extra"):
        config.remove("local")
    with pytest.raises(
        RepositoryError, match=f"extra cannot be removed: it is defined in {shared}"
    ):
        config.remove("extra")
    assert not (installation.root / "etc/moss/repo.d/local.kdl").exists()
    assert [r.id for r in RepositoryConfig.load(installation).repositories()] == ["extra", "local"]


def test_a_pinned_key_is_written_and_read_back(installation: Installation) -> None:
    from moss_core.trust.minisign import SecretKey

    key = SecretKey.generate().public_key()
    config = RepositoryConfig.load(installation)
    # The whole key file is accepted; the key line is what is kept.
    config.add(Repository("signed", "file:///srv/repo/stone.index", 1, public_key=key.format()))
    path = installation.root / "etc/moss/repo.d/signed.kdl"
    assert key.line() in path.read_text()
    reloaded = RepositoryConfig.load(installation).get("signed")
    assert reloaded is not None and reloaded.pinned_key() == key
    path.write_text(path.read_text().replace(key.line(), "RWQx"))
    broken = RepositoryConfig.load(installation)
    assert broken.get("signed") is None
    assert any("signed" in w and "key: " in w for w in broken.warnings)

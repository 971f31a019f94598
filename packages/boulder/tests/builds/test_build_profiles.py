"""Profiles: saved configuration, the CLI, and a build root installed by moss from one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from root_index import write_root_index

from boulder.build import BuildOptions, build
from boulder.build.roots import refresh_profile, root_packages
from boulder.cli import main
from boulder.errors import BuildError, ProfileError
from boulder.macros.load import MacroSet
from boulder.profiles import Profile, ProfileRepository, ProfileStore, parse_repository_spec
from boulder.recipe.load import load_recipe
from moss_core.repository import RootIndex, build_index
from moss_core.trust.minisign import SecretKey
from stone import Meta, scan_tree, write_binary

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
CORPUS = Path(__file__).resolve().parents[5] / "shared" / "corpus"

# Just enough of the host, packaged, for a build root without the host's /usr: bash and a
# few tools with the libraries they need (the C library comes from examples/host-libc).
TOOLBOX = """\
name: toolbox
version: 1
release: 1
homepage: https://example.com/toolbox
license: GPL-3.0-or-later
toolchain: gnu
strip: false
debug: false
install: |
  mkdir -p %(installroot)/usr/bin %(installroot)/usr/lib
  for tool in bash mkdir chmod cat; do
    cp -L /usr/bin/$tool %(installroot)/usr/bin/
    for lib in $(ldd /usr/bin/$tool | awk '/=> \\//{print $3}'); do
      case "$(basename $lib)" in libc.so.6) ;; *) cp -L $lib %(installroot)/usr/lib/ ;; esac
    done
  done
"""

SCRIPT_RECIPE = """\
name: greeter
version: 3
release: 1
homepage: https://example.com/greeter
license: MIT
toolchain: gnu
install: |
  test ! -e /usr/bin/gcc
  mkdir -p %(installroot)/usr/bin
  printf '#!/usr/bin/bash\\necho hi\\n' > %(installroot)/usr/bin/greeter
  chmod 755 %(installroot)/usr/bin/greeter
"""


def test_repository_specs() -> None:
    assert parse_repository_spec("name=a,uri=file:///x/stone.index,priority=5") == (
        ProfileRepository("a", "file:///x/stone.index", 5)
    )
    for bad in ("uri=x", "name=a", "name=a,uri=x,priority=high", "name=a,uri=x,colour=red"):
        with pytest.raises(ProfileError):
            parse_repository_spec(bad)


def test_store_round_trip_and_lookup(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path, system_dir=None)
    assert list(store.load()) == ["host"]
    saved = Profile("my_local", (ProfileRepository("r", "file:///r/stone.index", 2),), ("a", "b"))
    store.save(saved)
    assert store.get("my.local") == saved
    with pytest.raises(ProfileError, match="cannot find the provided profile: nope"):
        store.get("nope")
    with pytest.raises(ProfileError):
        store.save(Profile("host"))


def test_a_pinned_key_is_kept_with_the_profile(tmp_path: Path) -> None:
    key = SecretKey.generate().public_key().line()
    spec = parse_repository_spec(f"name=r,uri=file:///r/stone.index,key={key}")
    assert spec.key == key and spec.as_moss_repository().public_key == key
    store = ProfileStore(tmp_path, system_dir=None)
    store.save(Profile("signed", (spec,)))
    assert store.get("signed").repositories[0].as_moss_repository().pinned_key() is not None
    with pytest.raises(ProfileError, match="key"):
        ProfileRepository("r", "file:///r/stone.index", key="RWQnotakey").as_moss_repository()


def test_kdl_beats_yaml_and_upstream_profiles_load(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path, system_dir=None)
    saved = store.save(Profile("p", (ProfileRepository("r", "file:///r/stone.index", 1),)))
    assert saved.name == "p.kdl" and saved.read_text().startswith("p {\n")
    (tmp_path / "profile.d/p.yaml").write_text("p:\n  repositories:\n    other:\n      uri: x\n")
    (tmp_path / "profile.yaml").write_text("q:\n  repositories: {}\n  packages: [a]\n")
    loaded = store.load()
    assert loaded["p"].repositories == (ProfileRepository("r", "file:///r/stone.index", 1),)
    assert loaded["q"] == Profile("q", (), ("a",))


def test_upstream_default_profile_reads_its_root_index_repository(tmp_path: Path) -> None:
    shipped = CORPUS / "os-tools-data/boulder/data"
    if not (shipped / "profile.d").is_dir():
        pytest.skip(f"upstream's shipped profiles are not at {shipped}")
    profile = ProfileStore(tmp_path, system_dir=shipped).get("default-x86_64")
    (repo,) = profile.repositories
    assert (repo.name, repo.uri, repo.priority) == ("volatile", "https://cdn.aerynos.dev/", 0)
    assert repo.root_index == RootIndex("stream/volatile", "main", "x86_64")
    assert repo.describe() == (
        "(base-uri=https://cdn.aerynos.dev/, channel=main, version=stream/volatile, arch=x86_64)"
    )
    ProfileStore(tmp_path / "config").save(profile)
    assert ProfileStore(tmp_path / "config").load()[profile.id] == profile


def test_repository_specs_take_a_uri_or_a_root_index() -> None:
    plain = parse_repository_spec("name=local,uri=file:///srv/stone.index,priority=3")
    assert (plain.uri, plain.priority, plain.root_index) == ("file:///srv/stone.index", 3, None)
    rooted = parse_repository_spec("name=cdn,base-uri=https://cdn.example.org/,version=tag/v1")
    assert rooted.root_index == RootIndex("tag/v1")
    for bad, problem in [
        ("name=x,uri=a,base-uri=b,version=tag/v1", "uri and base-uri are two ways"),
        ("name=x,priority=1", "needs a uri or a base-uri"),
        ("name=x,base-uri=https://h/", "needs a version"),
        ("name=x,uri=file:///i,version=tag/v1", "only for a repository given by base-uri"),
        ("name=x,url=file:///i", "expected name="),
    ]:
        with pytest.raises(ProfileError, match=problem):
            parse_repository_spec(bad)


def test_a_root_index_repository_is_refreshed_through_its_root_index(tmp_path: Path) -> None:
    snapshot = tmp_path / "cdn" / "main" / "history" / "h1" / "x86_64"
    (tmp_path / "tree/usr/bin").mkdir(parents=True)
    (tmp_path / "tree/usr/bin/tool").write_text("tool\n")
    scanned = scan_tree(tmp_path / "tree/usr")
    meta = Meta("tool", "1", 1, architecture="x86_64", summary="s", description="d")
    snapshot.mkdir(parents=True)
    with open(snapshot / meta.filename, "wb") as out:
        write_binary(out, meta, scanned.layout, scanned.blobs)
    build_index(snapshot)
    write_root_index(tmp_path / "cdn", "volatile", "h1")
    spec = f"name=volatile,base-uri={(tmp_path / 'cdn').as_uri()},version=stream/volatile"
    profile = Profile("cdn", (parse_repository_spec(spec),))
    assert refresh_profile(profile, tmp_path / "moss") == [("volatile", 1)]


def test_root_packages(write_recipe: Callable[[str], Path], macros: MacroSet) -> None:
    recipe = load_recipe(
        write_recipe("toolchain: gnu\nbuilddeps: [pkgconfig(zlib)]\ncheckdeps: [x]\n")
    ).recipe
    default = root_packages(recipe, {"binary(make)"})
    assert {"bash", "binary(gcc)", "pkgconfig(zlib)", "x", "binary(make)"} <= set(default)
    assert default == sorted(set(default))
    assert root_packages(recipe, set(), ("toolbox",)) == ["pkgconfig(zlib)", "toolbox", "x"]


@pytest.mark.usefixtures("containers")
def test_build_root_from_a_profile_repository(
    tmp_path: Path, macros: MacroSet, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if shutil.which("ldd") is None:
        pytest.skip("the toolbox recipe copies host programs with the libraries ldd lists")
    repo, cache, config = tmp_path / "repo", tmp_path / "cache", tmp_path / "config"
    repo.mkdir()
    recipes = tmp_path / "recipes"
    shutil.copytree(EXAMPLES / "host-libc", recipes / "host-libc")
    (recipes / "toolbox").mkdir()
    (recipes / "toolbox/stone.yaml").write_text(TOOLBOX, encoding="utf-8")
    (recipes / "greeter").mkdir()
    (recipes / "greeter/stone.yaml").write_text(SCRIPT_RECIPE, encoding="utf-8")
    for name in ("host-libc", "toolbox"):
        options = BuildOptions(output=repo, cache_dir=cache, jobs=1, source_date_epoch=1)
        build(recipes / name, macros, options)
    subprocess.run([sys.executable, "-m", "moss", "index", str(repo)], check=True)
    capsys.readouterr()

    common = ["--config-dir", str(config), "--cache-dir", str(cache)]
    index = (repo / "stone.index").as_uri()
    with pytest.raises(SystemExit) as exited:
        main([*common, "profile", "add", "tiny", "-r", f"name=local,uri={index}", "--package",
              "toolbox"])  # fmt: skip
    assert exited.value.code == 0
    assert "local: " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*common, "profile", "list"])
    listed = capsys.readouterr().out
    assert f"tiny:\n - local = {index} [0]\n" in listed and listed.startswith("host:\n")

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SystemExit) as exited:
        main([*common, "build", str(recipes / "greeter"), "-p", "tiny", "-o", str(out), "-v"])
    printed = capsys.readouterr()
    assert exited.value.code == 0, printed.err
    assert "Installed toolbox" in printed.out and "│I│ + test '!' -e /usr/bin/gcc" in printed.out
    assert [p.name for p in out.iterdir()] == ["greeter-3-1-1-x86_64.stone"]
    # The indexes fetched by `profile add` served that build; `-u` fetches them again.
    assert "local updated" not in printed.out
    with pytest.raises(SystemExit):
        main([*common, "build", str(recipes / "greeter"), "-p", "tiny", "-o", str(out), "-u"])
    assert "local updated (2 packages)" in capsys.readouterr().out

    with pytest.raises(BuildError, match=r"nothing provides|no package found"):
        build(
            recipes / "greeter", macros,
            BuildOptions(output=out, cache_dir=cache, jobs=1, source_date_epoch=1,
                         profile="missing-deps", config_dir=_profile_without(config, index)),
        )  # fmt: skip

    # --extra-repo: a repository above the profile's, here the one holding what was just built.
    subprocess.run([sys.executable, "-m", "moss", "index", str(out)], check=True)
    (recipes / "greeted").mkdir()
    (recipes / "greeted/stone.yaml").write_text(GREETED_RECIPE, encoding="utf-8")
    greeted = [*common, "build", str(recipes / "greeted"), "-p", "tiny", "-o", str(tmp_path)]
    with pytest.raises(SystemExit) as exited:
        main(greeted)
    assert exited.value.code != 0
    assert "no package found: binary(greeter)" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main([*greeted, "--extra-repo", "out/stone.index"])
    printed = capsys.readouterr()
    assert exited.value.code == 0, printed.err
    assert f"extra-1 ({out.as_uri()}/stone.index): 1 packages" in printed.out
    assert "Installed greeter" in printed.out
    assert (tmp_path / "greeted-1-1-1-x86_64.stone").is_file()


GREETED_RECIPE = """\
name: greeted
version: 1
release: 1
homepage: https://example.com/greeted
license: MIT
toolchain: gnu
builddeps:
  - binary(greeter)
install: |
  mkdir -p %(installroot)/usr/share/greeted
  greeter > %(installroot)/usr/share/greeted/said
"""


def _profile_without(config: Path, index: str) -> Path:
    store = ProfileStore(config, system_dir=None)
    store.save(Profile("missing-deps", (ProfileRepository("local", index),), ("no-such-thing",)))
    return config

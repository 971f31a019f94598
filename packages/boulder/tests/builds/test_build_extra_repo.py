"""`--extra-repo`: packages of another repository in the build root. On the host profile, moss
composes those the recipe needs into a layer the build sees over the host's `/usr` (an overlay
in the build's namespaces); the examples' `welcome` then links the `greet` library built first."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from boulder.build import BuildOptions, build
from boulder.build.container import HostRoot
from boulder.build.roots import compose_layer, extra_repositories
from boulder.errors import BuildError
from boulder.macros.load import MacroSet
from moss_core.container import Bind, Overlay

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


@pytest.fixture(scope="module")
def greet_index(tmp_path_factory: pytest.TempPathFactory, macros: MacroSet) -> Path:
    """The examples' greet, built on the host profile and indexed as a moss repository."""
    missing = [t for t in ("gcc", "make", "pkg-config") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the host profile builds with the host's tools; missing: {missing}")
    base = tmp_path_factory.mktemp("greet")
    shutil.copytree(EXAMPLES / "greet", base / "greet")
    build(base / "greet" / "stone.yaml", macros, _options(base / "repo", base / "cache"))
    subprocess.run([sys.executable, "-m", "moss", "index", str(base / "repo")], check=True)
    return base / "repo" / "stone.index"


def _options(output: Path, cache: Path, *extra: Path) -> BuildOptions:
    return BuildOptions(
        output=output, cache_dir=cache, jobs=2, source_date_epoch=1,
        extra_repos=tuple(str(e) for e in extra), out=lambda _line: None,
    )  # fmt: skip


def test_extra_repositories_come_first_given_highest() -> None:
    repos = extra_repositories(["/a/stone.index", "file:///b/stone.index"], above=5)
    assert [(r.id, r.uri, r.priority) for r in repos] == [
        ("extra-1", "file:///a/stone.index", 7),
        ("extra-2", "file:///b/stone.index", 6),
    ]
    with pytest.raises(BuildError, match=r"--extra-repo ftp://x/stone.index: .*not a repository"):
        extra_repositories(["ftp://x/stone.index"])


def test_a_host_root_with_a_layer_mounts_it_over_usr(tmp_path: Path) -> None:
    usr, layer, root = tmp_path / "usr", tmp_path / "layer/usr", tmp_path / "root"
    for directory in (usr / "share/pkgconfig", layer / "lib/pkgconfig", root):
        directory.mkdir(parents=True)
    (layer / "lib/libgreet.so.1").write_bytes(b"")
    plain = HostRoot(usr=usr, top=tmp_path)
    layered = HostRoot(usr=usr, top=tmp_path, layer=layer)
    assert plain.populate(root, networking=False)[0] == Bind(usr, "/usr")
    assert layered.populate(root, networking=False)[0] == Overlay((layer, usr), "/usr")
    assert layered.exists("/usr/lib/libgreet.so.1") and not plain.exists("/usr/lib/libgreet.so.1")
    assert layered.pkgconfig_dirs() == [layer / "lib/pkgconfig", usr / "share/pkgconfig"]


@pytest.mark.usefixtures("containers")
def test_the_layer_holds_what_the_repository_provides_and_leaves_the_rest_to_the_host(
    greet_index: Path, tmp_path: Path
) -> None:
    lines: list[str] = []
    repos = extra_repositories([str(greet_index)])
    wanted = ["binary(gcc)", "pkgconfig(greet)"]
    usr = compose_layer(repos, wanted, tmp_path / "layer", lines.append)
    assert usr == tmp_path / "layer" / "usr"
    # greet-devel, and greet-libs it depends on; libc (which greet-libs needs) is the host's.
    assert (usr / "lib/pkgconfig/greet.pc").is_file()
    assert (usr / "include/greet.h").is_file()
    assert (usr / "lib/libgreet.so.1").exists()
    assert not (usr / "bin/gcc").exists()
    assert "Laying over the host's /usr, from the extra repositories: pkgconfig(greet)" in lines
    assert compose_layer(repos, ["binary(gcc)"], tmp_path / "none", lines.append) is None
    assert lines[-1] == "No build dependency is in the extra repositories"
    assert not (tmp_path / "none").exists()


@pytest.mark.usefixtures("containers")
def test_a_host_build_links_against_a_library_of_the_extra_repository(
    greet_index: Path, macros: MacroSet, tmp_path: Path
) -> None:
    recipe = tmp_path / "welcome"
    shutil.copytree(EXAMPLES / "welcome", recipe)
    out, cache = tmp_path / "out", tmp_path / "cache"
    # Without the layer the host has no greet: the ordering alone does not make it build.
    with pytest.raises(BuildError, match="build"):
        build(recipe / "stone.yaml", macros, _options(out, cache))
    # The recipe's check phase runs the program, so it also loaded libgreet from the layer.
    result = build(recipe / "stone.yaml", macros, _options(out, cache, greet_index))
    (welcome,) = (p for p in result.packages if p.meta.name == "welcome")
    assert "soname(libgreet.so.1(x86_64))" in {str(d) for d in welcome.meta.depends}
    log = result.log.read_text()
    assert "-lgreet" in log and "+ test 'Greetings, boulder!' = 'Greetings, boulder!'" in log
    # The host's /usr itself was never touched.
    assert not Path("/usr/lib/pkgconfig/greet.pc").exists()

    # `boulder chroot` enters that root again, with its layer.
    master, terminal = pty.openpty()
    try:
        os.write(master, b"test -f /usr/include/greet.h && test -x /usr/bin/gcc; exit $((5+$?))\n")
        shell = subprocess.run(
            [sys.executable, "-m", "boulder", "chroot", str(recipe), "--cache-dir", str(cache)],
            stdin=terminal, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(master)
        os.close(terminal)
    assert shell.returncode == 5, shell.stderr

"""`boulder recipe new` on archives made here, one per build system: every field of the draft,
and that `boulder recipe check` takes it as written."""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from loopback_http import LoopbackServer, dead_port

from boulder.build.upstreams import plain_cache_path
from boulder.recipe.load import load_recipe
from boulder.recipe.model import GitUpstream, PlainUpstream
from moss_core.fs import sha256_file

from ..conftest import run

LICENSES = Path("/usr/share/common-licenses")


def licence(name: str) -> str:
    path = LICENSES / name
    if not path.is_file():
        pytest.skip(f"licence texts to ship in test archives not found at {path}")
    return path.read_text(encoding="utf-8")


def make_archive(directory: Path, name: str, files: dict[str, str], top: str | None) -> Path:
    """`name` (a .tar.gz) holding `files`, under the directory `top` if given."""
    source = directory / "trees" / name
    for relative, text in files.items():
        path = source / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    archive = directory / name
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source).as_posix()
            tar.add(path, arcname=f"{top}/{relative}" if top else relative, recursive=False)
    return archive


@dataclass(frozen=True)
class Case:
    archive: str
    files: dict[str, str]
    name: str
    version: str
    license: tuple[str, ...]
    phases: dict[str, str]
    builddeps: tuple[str, ...] = ()
    networking: bool = False
    top: str | None = "project"
    notes: tuple[str, ...] = field(default=())


CASES = {
    "autotools": Case(
        "hello-2.1.tar.gz",
        {
            "configure.ac": (
                "AC_INIT([hello], [2.1])\n"
                "PKG_CHECK_MODULES([DEPS], [glib-2.0 >= 2.70 zlib])\n"
                "AC_PATH_PROG([MSGFMT], [msgfmt])\n"
            ),
            "configure": "#!/bin/sh\n",
            "Makefile.am": "bin_PROGRAMS = hello\n",
            "COPYING": "GPL-2",
        },
        "hello",
        "2.1",
        ("GPL-2.0-or-later",),
        {"setup": "%configure", "build": "%make", "install": "%make_install"},
        ("binary(msgfmt)", "pkgconfig(glib-2.0)", "pkgconfig(zlib)"),
        notes=("license: GPL-2.0-or-later assumed",),
    ),
    "cmake": Case(
        "source.tar.gz",
        {
            "CMakeLists.txt": (
                "project(Widget VERSION 3.4.5 LANGUAGES C)\n"
                "find_package(PkgConfig REQUIRED)\n"
                "pkg_check_modules(DEPS REQUIRED IMPORTED_TARGET libpng>=1.6)\n"
                "find_package(Qt6Core REQUIRED)\n"
            ),
            "Makefile": "all:\n",
            "LICENSE": "Apache-2.0",
        },
        "widget",
        "3.4.5",
        ("Apache-2.0",),
        {"setup": "%cmake", "build": "%cmake_build", "install": "%cmake_install"},
        ("cmake(Qt6Core)", "pkgconfig(libpng)"),
        notes=("homepage: not found",),
    ),
    "meson": Case(
        "tool-1.0.tar.gz",
        {
            "meson.build": (
                "project('tool', 'c', version: '1.0.7')\n"
                "dependency('gtk4')\nfind_program('glib-compile-resources')\n"
            ),
            "meson_options.txt": "",
            "COPYING": "LGPL-2.1",
            "LICENSES/MPL-2.0.txt": "MPL-2.0",
        },
        "tool",
        "1.0",
        ("LGPL-2.1-or-later", "MPL-2.0"),
        {"setup": "%meson", "build": "%meson_build", "install": "%meson_install"},
        ("binary(glib-compile-resources)", "pkgconfig(gtk4)"),
    ),
    "cargo": Case(
        "ripper-0.9.1.tar.gz",
        {
            "Cargo.toml": '[package]\nname = "ripper"\nversion = "0.9.1"\n'
            'homepage = "https://ripper.example"\n',
            "LICENSE-APACHE": "Apache-2.0",
        },
        "ripper",
        "0.9.1",
        ("Apache-2.0",),
        {
            "setup": "%cargo_fetch",
            "build": "%cargo_build",
            "install": "%cargo_install",
            "check": "%cargo_test",
        },
        networking=True,
    ),
    "python-pep517": Case(
        "foo_bar-1.0.tar.gz",
        {
            "pyproject.toml": (
                '[build-system]\nrequires = ["setuptools>=61", "setuptools_scm[toml]"]\n'
                '[project]\nname = "Foo_Bar"\nversion = "1.0"\n'
            ),
            "LICENSE.txt": "BSD",
        },
        "foo_bar",
        "1.0",
        ("BSD-3-Clause",),
        {"build": "%pyproject_build", "install": "%pyproject_install"},
        ("python(setuptools)", "python(setuptools-scm)"),
    ),
    "python-setuptools": Case(
        "legacy-0.3.tar.gz",
        {"setup.py": "from setuptools import setup\nsetup()\n"},
        "legacy",
        "0.3",
        (),
        {"build": "%python_setup", "install": "%python_install"},
        notes=("license: no licence file recognised",),
    ),
    "perl": Case(
        "Foo-Bar-0.01.tar.gz",
        {"Makefile.PL": "use ExtUtils::MakeMaker;\n", "Build.PL": "", "LICENSE": "Artistic"},
        "foo-bar",
        "0.01",
        ("Artistic-1.0-Perl",),
        {
            "setup": "%perl_setup",
            "build": "%make",
            "install": "%make_install",
            "check": "%make test",
        },
    ),
    "perl-module-build": Case(
        "Baz-1.5.tar.gz",
        {"Build.PL": "use Module::Build;\n"},
        "baz",
        "1.5",
        (),
        {
            "setup": "%perl_module_setup",
            "build": "%perl_module_build",
            "install": "%perl_module_install",
        },
    ),
    "ruby-tarball": Case(
        "gemmy-2.0.0.tar.gz",
        {"gemmy.gemspec": "Gem::Specification.new\n", "Rakefile": ""},
        "gemmy",
        "2.0.0",
        (),
        {"build": "%gem_build", "install": "%gem_install"},
    ),
    "ruby-gem": Case(
        "shiny-1.1.gem",
        {"metadata.gz": "", "data.tar.gz": "", "checksums.yaml.gz": ""},
        "shiny",
        "1.1",
        (),
        {"install": "%gem_install"},
        top=None,
    ),
    "make": Case(
        "tiny-0.1.tar.gz",
        {"Makefile": "all:\n\ttrue\n", "COPYING": "GPL-3"},
        "tiny",
        "0.1",
        ("GPL-3.0-or-later",),
        {"build": "%make", "install": "%make_install"},
    ),
    "unknown": Case(
        "odd-5.tar.gz",
        {"README": "read me\n"},
        "odd",
        "5",
        (),
        {"setup": "%configure", "build": "%make", "install": "%make_install"},
        notes=("build steps: no build system recognised",),
    ),
}


def _files(case: Case) -> dict[str, str]:
    files = {}
    for name, text in case.files.items():
        is_licence = name.startswith(("COPYING", "LICENSE"))
        files[name] = licence(text) if is_licence and "\n" not in text and text else text
    return files


@pytest.mark.parametrize("system", sorted(CASES))
def test_draft_for_each_build_system(
    system: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[system]
    archive = make_archive(tmp_path / "up", case.archive, _files(case), case.top)
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    code, stdout, err = run(
        capsys, "--cache-dir", str(cache), "recipe", "new", "-o", str(out), archive.as_uri()
    )
    assert (code, err) == (0, ""), err
    assert stdout.startswith(f"{out / 'stone.yaml'}: drafted {case.name} {case.version}")

    recipe = load_recipe(out).recipe
    assert recipe.name == case.name
    assert recipe.version == case.version
    assert recipe.release == 1
    assert recipe.license == (case.license or ("UPDATE LICENSE",))
    assert recipe.upstreams == (PlainUpstream(archive.as_uri(), sha256_file(archive)),)
    assert recipe.builddeps == case.builddeps
    assert recipe.networking is case.networking
    phases = {p: getattr(recipe, p) for p in ("setup", "build", "install", "check")}
    assert {p: s.strip() for p, s in phases.items() if s} == case.phases
    assert (recipe.summary, recipe.description) == ("UPDATE SUMMARY", "UPDATE DESCRIPTION\n")

    text = (out / "stone.yaml").read_text()
    comment = text.split("\n\n", 1)[0]
    assert "#   - summary and description" in comment
    for note in case.notes:
        assert f"#   - {note}" in comment
    assert ("license: no licence file" in comment) == (not case.license)
    # The fetched archive is in boulder's upstream cache, so a build does not fetch it again.
    cached = plain_cache_path(cache, PlainUpstream(archive.as_uri(), sha256_file(archive)))
    assert cached.read_bytes() == archive.read_bytes()

    assert run(capsys, "recipe", "check", str(out)) == (0, f"{out}: ok\n", "")


def test_monitoring_file_has_fields_to_fill(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(tmp_path, "tiny-0.1.tar.gz", {"Makefile": "all:\n"}, "tiny-0.1")
    out = tmp_path / "out"
    assert (
        run(
            capsys,
            "--cache-dir",
            str(tmp_path / "c"),
            "recipe",
            "new",
            "-o",
            str(out),
            archive.as_uri(),
        )[0]
        == 0
    )
    from ruamel.yaml import YAML

    monitoring = YAML(typ="safe").load((out / "monitoring.yaml").read_text())
    assert monitoring == {"releases": {"id": None, "rss": None}, "security": {"cpe": None}}


def test_draft_over_http_and_from_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    served = tmp_path / "served"
    archive = make_archive(
        served, "hello-2.1.tar.gz", {"meson.build": "project('hello', 'c')\n"}, "hello-2.1"
    )
    repo = tmp_path / "extra.git"
    _git_repo(repo, {"CMakeLists.txt": "project(extra)\n"})
    commit = _git(repo, "rev-parse", "HEAD")
    server = LoopbackServer(served)
    server.start()
    try:
        url = server.url("hello-2.1.tar.gz")
        out = tmp_path / "out"
        code, _, err = run(
            capsys, "--cache-dir", str(tmp_path / "cache"), "recipe", "new", "-o", str(out),
            url, f"git|{repo.as_uri()}",
        )  # fmt: skip
    finally:
        server.stop()
    assert (code, err) == (0, "")
    recipe = load_recipe(out).recipe
    assert recipe.upstreams == (
        PlainUpstream(url, sha256_file(archive)),
        GitUpstream(repo.as_uri(), commit),
    )
    assert (recipe.name, recipe.version, recipe.setup) == ("hello", "2.1", "%meson\n")
    assert recipe.homepage == server.url().rstrip("/")
    assert "#   - homepage: the download directory" in (out / "stone.yaml").read_text()


def test_draft_from_git_reads_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "widget"
    _git_repo(repo, {"CMakeLists.txt": "project(widget VERSION 0.5)\n"})
    out = tmp_path / "out"
    uri = f"git|{repo.as_uri()}"
    assert (
        run(capsys, "--cache-dir", str(tmp_path / "c"), "recipe", "new", "-o", str(out), uri)[0]
        == 0
    )
    recipe = load_recipe(out).recipe
    assert (recipe.name, recipe.version, recipe.setup) == ("widget", "0.5", "%cmake\n")
    assert recipe.upstreams == (GitUpstream(repo.as_uri(), _git(repo, "rev-parse", "HEAD")),)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _git_repo(repo: Path, files: dict[str, str]) -> None:
    repo.mkdir(parents=True)
    for name, text in files.items():
        (repo / name).write_text(text)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    _git(repo, "tag", "v1")


@pytest.mark.parametrize(
    ("make_uri", "message"),
    [
        (lambda p: f"http://127.0.0.1:{dead_port()}/a-1.tar.gz", "cannot fetch http://127.0.0.1:"),
        (lambda p: (p / "missing-1.tar.gz").as_uri(), "cannot fetch file://"),
        (lambda p: "ftp://example.org/a-1.tar.gz", "unsupported URI scheme 'ftp'"),
        (lambda p: (p / "notes-1.tar.gz").as_uri(), "notes-1.tar.gz is not an archive"),
        (lambda p: f"git|{(p / 'nowhere.git').as_uri()}", "git clone"),
    ],
)
def test_errors_are_one_line(
    make_uri: object, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes-1.tar.gz").write_text("just text\n")
    uri = make_uri(tmp_path)  # type: ignore[operator]
    out = tmp_path / "out"
    code, stdout, err = run(
        capsys, "--cache-dir", str(tmp_path / "c"), "recipe", "new", "-o", str(out), uri
    )
    assert code == 1 and stdout == ""
    assert err.startswith("boulder: error: ") and message in err and err.count("\n") == 1, err
    assert not out.exists()
    assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file() and "fetched" in p.parts]


def test_an_existing_recipe_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(tmp_path, "tiny-0.1.tar.gz", {"Makefile": "all:\n"}, "tiny-0.1")
    out = tmp_path / "out"
    out.mkdir()
    (out / "stone.yaml").write_text("mine\n")
    code, _, err = run(capsys, "recipe", "new", "-o", str(out), archive.as_uri())
    assert code == 1
    assert err == f"boulder: error: {out / 'stone.yaml'}: already exists; not overwritten\n"
    assert (out / "stone.yaml").read_text() == "mine\n"


def test_every_plain_upstream_must_be_an_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(tmp_path, "tiny-0.1.tar.gz", {"Makefile": "all:\n"}, "tiny-0.1")
    patch = tmp_path / "fix.patch"
    patch.write_text("--- a\n+++ b\n")
    out = tmp_path / "out"
    code, _, err = run(
        capsys, "--cache-dir", str(tmp_path / "c"), "recipe", "new", "-o", str(out),
        archive.as_uri(), patch.as_uri(),
    )  # fmt: skip
    assert code == 1
    assert err == (
        f"boulder: error: upstream: {patch.as_uri()}: fix.patch is not an archive"
        " (tar, compressed tar or zip)\n"
    )
    assert not out.exists()


def test_a_local_file_cached_no_more_readable_than_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = make_archive(tmp_path, "tiny-0.1.tar.gz", {"Makefile": "all:\n"}, "tiny-0.1")
    archive.chmod(0o600)
    cache = tmp_path / "c"
    code, _, err = run(
        capsys, "--cache-dir", str(cache), "recipe", "new", "-o", str(tmp_path / "out"),
        archive.as_uri(),
    )  # fmt: skip
    assert (code, err) == (0, "")
    cached = plain_cache_path(cache, PlainUpstream(archive.as_uri(), sha256_file(archive)))
    assert cached.stat().st_mode & 0o777 == 0o600

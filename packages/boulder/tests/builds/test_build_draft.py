"""Drafted recipes build: `boulder recipe new` on a C autotools, a meson and a CMake project
made here, served over loopback HTTP, then `boulder build` on the host profile."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from loopback_http import LoopbackServer

from boulder.build import BuildOptions, build
from boulder.cli import main
from boulder.macros.load import MacroSet
from boulder.recipe.load import load_recipe

pytestmark = pytest.mark.usefixtures("containers")

PROGRAM = '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'

PROJECTS = {
    "autotools": (
        "hello-2.1",
        {
            "configure.ac": "AC_INIT([hello], [2.1])\nAC_PROG_CC\n"
            "AC_CONFIG_FILES([Makefile])\nAC_OUTPUT\n",
            "Makefile.in": "prefix = @prefix@\nexec_prefix = @exec_prefix@\n"
            "bindir = @bindir@\nCC = @CC@\nCFLAGS = @CFLAGS@\nLDFLAGS = @LDFLAGS@\n"
            "all: hello\nhello: hello.c\n\t$(CC) $(CFLAGS) $(LDFLAGS) -o $@ hello.c\n"
            "install: hello\n\tinstall -Dm755 hello $(DESTDIR)$(bindir)/hello\n",
            "hello.c": PROGRAM,
        },
        ("autoconf", "gcc", "make"),
        "%configure",
    ),
    "meson": (
        "greet-0.4.0",
        {
            "meson.build": "project('greet', 'c', version: '0.4.0')\n"
            "executable('greet', 'greet.c', install: true)\n",
            "greet.c": PROGRAM,
        },
        ("meson", "ninja", "gcc"),
        "%meson",
    ),
    "cmake": (
        "shout-1.3",
        {
            "CMakeLists.txt": "cmake_minimum_required(VERSION 3.10)\n"
            "project(shout VERSION 1.3 LANGUAGES C)\nadd_executable(shout shout.c)\n"
            "install(TARGETS shout DESTINATION bin)\n",
            "shout.c": PROGRAM,
        },
        ("cmake", "ninja", "gcc"),
        "%cmake",
    ),
}


def _tarball(served: Path, top: str, files: dict[str, str]) -> Path:
    source = served / "trees" / top
    source.mkdir(parents=True)
    for name, text in files.items():
        (source / name).write_text(text)
    if "configure.ac" in files:
        # Released autotools tarballs ship a generated configure script; so does this one.
        subprocess.run(["autoconf"], cwd=source, check=True, capture_output=True)
        shutil.rmtree(source / "autom4te.cache", ignore_errors=True)
    licence = Path("/usr/share/common-licenses/GPL-3")
    if licence.is_file():
        shutil.copyfile(licence, source / "COPYING")
    tarball = served / f"{top}.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(source, arcname=top)
    return tarball


@pytest.mark.parametrize("system", sorted(PROJECTS))
def test_drafted_recipe_builds(
    system: str,
    tmp_path: Path,
    macros: MacroSet,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    top, files, tools, setup = PROJECTS[system]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the host profile builds with the host's tools; missing: {missing}")
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    served = tmp_path / "served"
    served.mkdir()
    tarball = _tarball(served, top, files)
    program = top.split("-")[0]
    server = LoopbackServer(served)
    server.start()
    try:
        out = tmp_path / "recipe"
        cache = tmp_path / "cache"
        with pytest.raises(SystemExit) as info:
            main(["--cache-dir", str(cache), "recipe", "new", "-o", str(out),
                  server.url(tarball.name)])  # fmt: skip
        assert info.value.code == 0, capsys.readouterr().err
        recipe = out / "stone.yaml"
        assert load_recipe(recipe).recipe.setup == f"{setup}\n"
        # The draft keeps AerynOS's default toolchain (llvm), whose flags need the clang
        # AerynOS ships; a host's (Debian 12's clang 14 refuses them) or none at all: gcc here.
        recipe.write_text(recipe.read_text() + "toolchain   : gnu\n")
        packages = tmp_path / "packages"
        packages.mkdir()
        lines: list[str] = []
        result = build(
            recipe, macros,
            BuildOptions(output=packages, cache_dir=cache, jobs=2,
                         source_date_epoch=1700000000, out=lines.append),
        )  # fmt: skip
    finally:
        server.stop()
    main_package = next(p for p in result.packages if p.meta.name == program)
    assert f"/usr/bin/{program}" in main_package.files, "\n".join(lines[-30:])

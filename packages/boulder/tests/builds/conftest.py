"""Real builds for the tests: a small C library and program, packed into a tarball here."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from moss_core.container import namespaces_available

SOURCES = {
    "foo.h": "int foo_answer(void);\n",
    "foo.c": '#include "foo.h"\nint foo_answer(void) { return 42; }\n',
    "main.c": (
        '#include <stdio.h>\n#include "foo.h"\n'
        'int main(void) { printf("%d\\n", foo_answer()); return 0; }\n'
    ),
    "foo.pc": (
        "prefix=/usr\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\n"
        "Name: foo\nDescription: The foo library\nVersion: 1.0\n"
        "Libs: -L${libdir} -lfoo\nCflags: -I${includedir}\n"
    ),
    "Makefile": (
        "all: libfoo.so.1.0 foo-answer\n"
        "libfoo.so.1.0: foo.c foo.h\n"
        "\t$(CC) $(CFLAGS) -fPIC -shared -Wl,-soname,libfoo.so.1 -o $@ foo.c\n"
        "foo-answer: main.c libfoo.so.1.0\n"
        "\tln -sf libfoo.so.1.0 libfoo.so\n"
        "\t$(CC) $(CFLAGS) -o $@ main.c -L. -lfoo\n"
        "install:\n"
        "\tinstall -Dm755 libfoo.so.1.0 $(DESTDIR)/usr/lib/libfoo.so.1.0\n"
        "\tln -sf libfoo.so.1.0 $(DESTDIR)/usr/lib/libfoo.so.1\n"
        "\tln -sf libfoo.so.1 $(DESTDIR)/usr/lib/libfoo.so\n"
        "\tinstall -Dm755 foo-answer $(DESTDIR)/usr/bin/foo-answer\n"
        "\tinstall -Dm644 foo.h $(DESTDIR)/usr/include/foo.h\n"
        "\tinstall -Dm644 foo.pc $(DESTDIR)/usr/lib/pkgconfig/foo.pc\n"
        "\tinstall -Dm644 foo.h $(DESTDIR)/etc/foo.conf\n"
    ),
}

RECIPE = """\
name: foo
version: 1.0
release: 1
homepage: https://example.com/foo
license: MIT
summary: The foo library and its program
description: Answers questions.
toolchain: gnu
upstreams:
  - {url}: {hash}
build: |
  %make CFLAGS="-g -O2"
install: |
  %make_install
packages:
  - "%(name)-libs":
      summary: The foo library
      paths:
        - /usr/lib/libfoo.so.*
"""


def make_tarball(directory: Path, files: dict[str, str], top: str = "foo-1.0") -> Path:
    source = directory / "src" / top
    source.mkdir(parents=True)
    for name, text in files.items():
        (source / name).write_text(text, encoding="utf-8")
    tarball = directory / f"{top}.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(source, arcname=top)
    return tarball


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Project:
    recipe: Path
    tarball: Path
    output: Path
    cache: Path


@pytest.fixture
def foo_project(tmp_path: Path) -> Callable[..., Project]:
    """A recipe building libfoo and foo-answer from a local tarball; `hash` and `recipe`
    (a format string with `{url}` and `{hash}`) can be replaced."""

    def make(*, recipe: str = RECIPE, hash: str | None = None) -> Project:
        recipe_dir = tmp_path / "recipe"
        recipe_dir.mkdir()
        # Inside the recipe's directory: boulder refuses local upstreams from elsewhere.
        tarball = make_tarball(recipe_dir / "upstream", SOURCES)
        text = recipe.format(url=tarball.as_uri(), hash=hash or sha256(tarball))
        (recipe_dir / "stone.yaml").write_text(text, encoding="utf-8")
        output = tmp_path / "out"
        output.mkdir()
        return Project(recipe_dir / "stone.yaml", tarball, output, tmp_path / "cache")

    return make


@pytest.fixture(scope="session")
def containers() -> None:
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"containers are not available here: {reason}")

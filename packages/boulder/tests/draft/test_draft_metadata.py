"""Name, version and homepage from URI shapes and from project metadata files."""

from __future__ import annotations

import pytest

from boulder.draft.metadata import Facts, from_archive_name, from_project, from_uri
from boulder.draft.tree import SourceTree


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "https://github.com/GNOME/pango/archive/refs/tags/1.57.0.tar.gz",
            Facts("pango", "1.57.0", "https://github.com/GNOME/pango"),
        ),
        (
            "https://github.com/chatty/Chatty/archive/v0.28.tar.gz",
            Facts("chatty", "0.28", "https://github.com/chatty/Chatty"),
        ),
        (
            "https://github.com/streamlink/streamlink/releases/download/8.2.0/streamlink-8.2.0.tar.gz",
            Facts("streamlink", "8.2.0", "https://github.com/streamlink/streamlink"),
        ),
        (
            "git|https://github.com/rust-lang/rust.git",
            Facts("rust", None, "https://github.com/rust-lang/rust"),
        ),
        (
            "https://gitlab.freedesktop.org/xorg/lib/libx11/-/archive/v1.8.10/libx11-v1.8.10.tar.gz",
            Facts("libx11", "1.8.10", "https://gitlab.freedesktop.org/xorg/lib/libx11"),
        ),
        (
            "git|https://gitlab.com/accounts-sso/accounts-qml-module.git",
            Facts(
                "accounts-qml-module", None, "https://gitlab.com/accounts-sso/accounts-qml-module"
            ),
        ),
        (
            "https://files.pythonhosted.org/packages/59/83/a60af4e83c492c7dceceeabd677aa87bbaf2d8910b3d1b973295e560f421/pyzk-0.9.tar.gz",
            Facts("python-pyzk", "0.9", "https://pypi.org/project/pyzk"),
        ),
        (
            "https://files.pythonhosted.org/packages/source/s/setuptools_scm/setuptools_scm-8.1.0.tar.gz",
            Facts("python-setuptools-scm", "8.1.0", "https://pypi.org/project/setuptools-scm"),
        ),
        (
            "https://cpan.metacpan.org/authors/id/T/TO/TODDR/XML-Parser-2.47.tar.gz",
            Facts("perl-xml-parser", "2.47", "https://metacpan.org/pod/XML::Parser"),
        ),
        (
            "https://www.nano-editor.org/dist/v9/nano-9.2.tar.xz",
            Facts("nano", "9.2", "https://www.nano-editor.org/dist/v9", homepage_guessed=True),
        ),
        ("file:///tmp/x/hello-1.2.3.tar.gz", Facts("hello", "1.2.3")),
        ("git|file:///srv/git/widget.git", Facts("widget")),
    ],
)
def test_uri_shapes(uri: str, expected: Facts) -> None:
    assert from_uri(uri) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("libfoo-1.2.3.tar.gz", Facts("libfoo", "1.2.3")),
        ("gtk_4-4.14.2.tar.xz", Facts("gtk_4", "4.14.2")),
        ("icu4c-76_1-src.tgz", Facts("icu4c", "76_1")),
        ("foo-v2.0.zip", Facts("foo", "2.0")),
        ("bar_1.4.orig.tar.xz", Facts("bar", "1.4")),
        ("Foo-Bar-0.01.tar.gz", Facts("foo-bar", "0.01")),
        ("source.tar.gz", Facts()),
        ("notes.txt", Facts()),
    ],
)
def test_archive_names(name: str, expected: Facts) -> None:
    assert from_archive_name(name) == expected


def test_a_real_homepage_replaces_a_guessed_one() -> None:
    guessed = Facts("a", None, "https://example.org/dist", homepage_guessed=True)
    assert guessed.fill(Facts("b", "1", "https://a.example")) == Facts(
        "a", "1", "https://a.example"
    )
    known = Facts(None, None, "https://known.example")
    assert known.fill(Facts("b", "1", "https://a.example")) == Facts(
        "b", "1", "https://known.example"
    )


def _tree(name: str, text: str) -> SourceTree:
    return SourceTree(frozenset({name}), {name: text})


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "pyproject.toml",
            '[project]\nname = "Foo_Bar"\nversion = "1.0"\n'
            '[project.urls]\nHomepage = "https://foo.example"\n',
            Facts("foo-bar", "1.0", "https://foo.example"),
        ),
        (
            "pyproject.toml",
            '[project]\nname = "dyn"\ndynamic = ["version"]\n',
            Facts("dyn"),
        ),
        (
            "pyproject.toml",
            '[tool.poetry]\nname = "poet"\nversion = "0.3"\nhomepage = "https://p.example"\n',
            Facts("poet", "0.3", "https://p.example"),
        ),
        (
            "setup.cfg",
            "[metadata]\nname = cfgpkg\nversion = attr: cfgpkg.__version__\nurl = https://c.example\n",
            Facts("cfgpkg", None, "https://c.example"),
        ),
        (
            "Cargo.toml",
            '[package]\nname = "ripper"\nversion = "0.9.1"\nrepository = "https://r.example"\n',
            Facts("ripper", "0.9.1", "https://r.example"),
        ),
        (
            "meson.build",
            "project(\n  'Hello_World', 'c',\n  version : '1.2.3',\n  license: 'MIT')\n",
            Facts("hello-world", "1.2.3"),
        ),
        (
            "CMakeLists.txt",
            "cmake_minimum_required(VERSION 3.20)\nproject(Widget VERSION 3.4.5 LANGUAGES C)\n",
            Facts("widget", "3.4.5"),
        ),
        (
            "configure.ac",
            "AC_INIT([GNU hello], [2.12.1], [bug-hello@gnu.org])\n",
            Facts("hello", "2.12.1"),
        ),
        (
            "configure.ac",
            "AC_INIT([tool], m4_esyscmd([./version.sh]))\n",
            Facts("tool"),
        ),
    ],
)
def test_project_metadata(name: str, text: str, expected: Facts) -> None:
    assert from_project(_tree(name, text)) == expected

"""Build-system detection and declared build dependencies, on trees described in the test."""

from __future__ import annotations

import pytest

from boulder.draft.detect import STEPS, System, builddeps, detect_system, normalize_python_name
from boulder.draft.tree import SourceTree


def tree(*names: str, **texts: str) -> SourceTree:
    files = {name.replace("__", "."): text for name, text in texts.items()}
    return SourceTree(frozenset(names) | frozenset(files), files)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("Makefile",), System.MAKE),
        (("configure", "Makefile.in", "Makefile"), System.AUTOTOOLS),
        (("configure.ac", "Makefile.am"), System.AUTOTOOLS),
        (("CMakeLists.txt", "Makefile"), System.CMAKE),
        # configure.ac + configure (20) ties CMake (20): CMake comes later, it wins.
        (("configure.ac", "configure", "CMakeLists.txt"), System.CMAKE),
        (("meson.build", "CMakeLists.txt", "configure.ac", "Makefile"), System.MESON),
        (("Cargo.toml", "Makefile"), System.CARGO),
        (("Cargo.toml", "meson.build"), System.MESON),
        (("pyproject.toml",), System.PYTHON_PEP517),
        (("pyproject.toml", "setup.py"), System.PYTHON_SETUPTOOLS),
        (("pyproject.toml", "setup.cfg", "setup.py"), System.PYTHON_PEP517),
        (("setup.py", "Makefile"), System.PYTHON_SETUPTOOLS),
        (("metadata.gz", "data.tar.gz", "checksums.yaml.gz"), System.RUBY_GEM),
        (("foo.gemspec", "Rakefile"), System.RUBY_TARBALL),
        (("Makefile.PL", "Build.PL"), System.PERL_MAKEMAKER),
        (("Build.PL",), System.PERL_MODULE_BUILD),
        (("README", "src/meson.build", "sub/CMakeLists.txt"), None),
    ],
)
def test_most_specific_system_wins(names: tuple[str, ...], expected: System | None) -> None:
    assert detect_system(tree(*names)) is expected


def test_every_system_has_steps_in_macros_that_exist() -> None:
    from boulder.macros.catalog import catalog
    from boulder.macros.load import bundled_data_dir, load_macros

    actions = {e.reference for e in catalog(load_macros(bundled_data_dir()), "x86_64")}
    for system in System:
        steps = STEPS[system]
        assert steps.install is not None, system
        for script in (steps.setup, steps.build, steps.install, steps.check):
            if script is not None:
                assert script.split()[0] in actions, (system, script)


def test_autotools_pkg_config_modules_and_programs() -> None:
    configure = (
        "AC_INIT([hello], [2.1])\n"
        "dnl PKG_CHECK_MODULES([OLD], [commented-out])\n"
        "PKG_CHECK_MODULES([DEPS], [glib-2.0 >= 2.70 gio-2.0 zlib])\n"
        "PKG_CHECK_MODULES(X, x11)\n"
        "AC_PATH_PROG([MSGFMT], [msgfmt])\n"
        "AC_CHECK_PROG(HAVE_XSLT, xsltproc, yes)\n"
    )
    assert builddeps(tree(configure__ac=configure)) == (
        "binary(msgfmt)",
        "binary(xsltproc)",
        "pkgconfig(gio-2.0)",
        "pkgconfig(glib-2.0)",
        "pkgconfig(x11)",
        "pkgconfig(zlib)",
    )


def test_meson_dependencies_skip_optional_and_builtin() -> None:
    meson = (
        "project('hello', 'c', version: '1.2.3')\n"
        "glib = dependency('glib-2.0', version: '>= 2.70')\n"
        "# dep = dependency('commented')\n"
        "z = dependency('zlib', required: false)\n"
        "t = dependency('threads')\n"
        "gtk = dependency('gtk4',\n  version: '>= 4.0',\n)\n"
        "py = find_program('python3')\n"
        "local = find_program('scripts/gen.py')\n"
        "opt = find_program('doxygen', required : false)\n"
    )
    assert builddeps(tree(meson__build=meson)) == (
        "binary(python3)",
        "pkgconfig(glib-2.0)",
        "pkgconfig(gtk4)",
    )


def test_cmake_packages_modules_and_required_programs() -> None:
    cmake = (
        "project(widget VERSION 3.4.5 LANGUAGES C)\n"
        "find_package(PkgConfig REQUIRED)\n"
        "find_package(Threads)\n"
        "find_package(Qt6Core 6.5 REQUIRED)\n"
        "pkg_check_modules(DEPS REQUIRED IMPORTED_TARGET libpng>=1.6 zlib)\n"
        "pkg_search_module(SSL openssl)\n"
        "find_program(DOXYGEN doxygen REQUIRED)\n"
        "find_program(DOT dot)\n"
    )
    assert builddeps(tree(CMakeLists__txt=cmake)) == (
        "binary(doxygen)",
        "cmake(Qt6Core)",
        "pkgconfig(libpng)",
        "pkgconfig(openssl)",
        "pkgconfig(zlib)",
    )


def test_python_build_requirements() -> None:
    pyproject = (
        "[build-system]\n"
        'requires = ["setuptools>=61", "wheel", "setuptools_scm[toml]>=6.2", "Flit.Core"]\n'
    )
    setup_cfg = "[options]\nsetup_requires =\n    cython>=3\n    pkgconfig\n"
    assert builddeps(tree(pyproject__toml=pyproject, setup__cfg=setup_cfg)) == (
        "python(cython)",
        "python(flit-core)",
        "python(pkgconfig)",
        "python(setuptools)",
        "python(setuptools-scm)",
        "python(wheel)",
    )


def test_broken_build_files_declare_nothing() -> None:
    assert builddeps(tree(pyproject__toml="[build-system\n", setup__cfg="no section")) == ()


def test_python_names_are_normalized() -> None:
    assert normalize_python_name("Zope.Interface__x") == "zope-interface-x"

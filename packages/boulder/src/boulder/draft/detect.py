"""Which build system a source tree uses, the steps our macros give for it, and the build
dependencies its build files declare. Pure: works on a SourceTree.

Each system scores the marker files it finds (the weights are upstream boulder's, so the same
tree drafts the same way); the highest score wins and, on a tie, the system later in `System`
(the more specific one, in upstream's order). A Makefile alone is our own `make` system, the
least specific of all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from boulder.draft.tree import SourceTree


class System(Enum):
    MAKE = "make"
    AUTOTOOLS = "autotools"
    CARGO = "cargo"
    CMAKE = "cmake"
    MESON = "meson"
    PYTHON_PEP517 = "python-pep517"
    PYTHON_SETUPTOOLS = "python-setuptools"
    RUBY_GEM = "ruby-gem"
    RUBY_TARBALL = "ruby-tarball"
    PERL_MAKEMAKER = "perl-makemaker"
    PERL_MODULE_BUILD = "perl-module-build"


@dataclass(frozen=True)
class Steps:
    setup: str | None = None
    build: str | None = None
    install: str | None = None
    check: str | None = None
    networking: bool = False


STEPS: dict[System, Steps] = {
    System.MAKE: Steps(build="%make", install="%make_install"),
    System.AUTOTOOLS: Steps(setup="%configure", build="%make", install="%make_install"),
    System.CARGO: Steps(
        setup="%cargo_fetch",
        build="%cargo_build",
        install="%cargo_install",
        check="%cargo_test",
        networking=True,
    ),
    System.CMAKE: Steps(setup="%cmake", build="%cmake_build", install="%cmake_install"),
    System.MESON: Steps(setup="%meson", build="%meson_build", install="%meson_install"),
    System.PYTHON_PEP517: Steps(build="%pyproject_build", install="%pyproject_install"),
    System.PYTHON_SETUPTOOLS: Steps(build="%python_setup", install="%python_install"),
    System.RUBY_GEM: Steps(install="%gem_install"),
    System.RUBY_TARBALL: Steps(build="%gem_build", install="%gem_install"),
    System.PERL_MAKEMAKER: Steps(
        setup="%perl_setup", build="%make", install="%make_install", check="%make test"
    ),
    System.PERL_MODULE_BUILD: Steps(
        setup="%perl_module_setup", build="%perl_module_build", install="%perl_module_install"
    ),
}

# (system, top-level file name, weight)
_MARKERS: tuple[tuple[System, str, int], ...] = (
    (System.MAKE, "Makefile", 5),
    (System.MAKE, "GNUmakefile", 5),
    (System.MAKE, "makefile", 5),
    (System.AUTOTOOLS, "configure.ac", 10),
    (System.AUTOTOOLS, "configure.in", 10),
    (System.AUTOTOOLS, "configure", 10),
    (System.AUTOTOOLS, "Makefile.am", 10),
    (System.CARGO, "Cargo.toml", 100),
    (System.CMAKE, "CMakeLists.txt", 20),
    (System.MESON, "meson.build", 100),
    (System.MESON, "meson_options.txt", 100),
    (System.MESON, "meson.options", 100),
    (System.PYTHON_PEP517, "pyproject.toml", 100),
    (System.PYTHON_PEP517, "setup.cfg", 100),
    (System.PYTHON_SETUPTOOLS, "setup.py", 100),
    (System.RUBY_GEM, "checksums.yaml.gz", 50),
    (System.RUBY_GEM, "data.tar.gz", 80),
    (System.RUBY_GEM, "metadata.gz", 100),
    (System.PERL_MAKEMAKER, "Makefile.PL", 100),
    (System.PERL_MODULE_BUILD, "Build.PL", 95),
)
_ORDER = {system: index for index, system in enumerate(System)}


def scores(tree: SourceTree) -> dict[System, int]:
    names = tree.top_names()
    found: dict[System, int] = {}
    for system, name, weight in _MARKERS:
        if name in names:
            found[system] = found.get(system, 0) + weight
    gemspecs = sum(1 for name in names if name.endswith(".gemspec"))
    if gemspecs:
        found[System.RUBY_TARBALL] = found.get(System.RUBY_TARBALL, 0) + 100 * gemspecs
    return found


def detect_system(tree: SourceTree) -> System | None:
    found = scores(tree)
    if not found:
        return None
    return max(found, key=lambda system: (found[system], _ORDER[system]))


# -- build dependencies --------------------------------------------------------------------------

_AC_PKG = re.compile(r"PKG_CHECK_MODULES(?:_STATIC)?\(\s*\[?\w+\]?\s*,\s*\[?([^\]),]+)")
_AC_PROG = re.compile(r"AC_(?:PATH|CHECK)_PROG\(\s*\[?\w+\]?\s*,\s*\[?([\w.+-]+)\]?")
_MESON_CALL = re.compile(r"\b(dependency|find_program)\s*\(")
_MESON_NAME = re.compile(r"\s*'([^']*)'")
_MESON_OPTIONAL = re.compile(r"required\s*:\s*false")
_CMAKE_PKG = re.compile(r"pkg_(?:check_modules|search_module)\s*\(([^)]*)\)", re.IGNORECASE)
_CMAKE_PACKAGE = re.compile(r"find_package\s*\(\s*([A-Za-z0-9_.+-]+)", re.IGNORECASE)
_CMAKE_PROGRAM = re.compile(r"find_program\s*\(([^)]*)\)", re.IGNORECASE)
_PKG_MODULE = re.compile(r"[A-Za-z0-9_.+-]+")
_CMAKE_KEYWORDS = frozenset({"REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH"})
# Meson resolves these itself, not through pkg-config.
_MESON_BUILTIN = frozenset({"", "threads", "dl", "openmp", "intl", "iconv", "m"})
# CMake modules that are the build tool itself, not a package to install.
_CMAKE_BUILTIN = frozenset({"PkgConfig", "Threads"})
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def builddeps(tree: SourceTree) -> tuple[str, ...]:
    """`pkgconfig(x)`, `binary(x)`, `cmake(X)` and `python(x)` dependencies the build files
    declare, sorted, each once."""
    found: set[str] = set()
    configure = tree.top("configure.ac") or tree.top("configure.in")
    if configure is not None:
        found |= _autotools_deps(configure)
    meson = tree.top("meson.build")
    if meson is not None:
        found |= _meson_deps(meson)
    cmake = tree.top("CMakeLists.txt")
    if cmake is not None:
        found |= _cmake_deps(cmake)
    found |= _python_deps(tree)
    return tuple(sorted(found))


def _autotools_deps(text: str) -> set[str]:
    text = _strip_comments(text, ("dnl", "#"))
    found = set()
    for match in _AC_PKG.finditer(text):
        found |= {f"pkgconfig({m})" for m in _modules(match.group(1))}
    found |= {f"binary({m.group(1)})" for m in _AC_PROG.finditer(text)}
    return found


def _modules(spec: str) -> list[str]:
    """Module names of a pkg-config spec (`glib-2.0 >= 2.70 zlib`), version clauses dropped."""
    words = spec.split()
    names = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("<", "<=", "=", ">=", ">", "!="):
            skip = True
            continue
        if _PKG_MODULE.fullmatch(word) and not word[0].isdigit():
            names.append(word)
    return names


def _meson_deps(text: str) -> set[str]:
    text = _strip_comments(text, ("#",))
    found = set()
    for match in _MESON_CALL.finditer(text):
        arguments = _call_arguments(text, match.end())
        name = _MESON_NAME.match(arguments)
        if name is None or _MESON_OPTIONAL.search(arguments):
            continue
        value = name.group(1)
        if match.group(1) == "dependency":
            if value not in _MESON_BUILTIN:
                found.add(f"pkgconfig({value})")
        elif value and "/" not in value:
            found.add(f"binary({value})")
    return found


def _call_arguments(text: str, start: int) -> str:
    """The text of a call's arguments, from just after its `(` to the matching `)`."""
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return text[start:index]
    return text[start:]


def _cmake_deps(text: str) -> set[str]:
    text = _strip_comments(text, ("#",))
    found = set()
    for match in _CMAKE_PKG.finditer(text):
        words = match.group(1).split()[1:]
        modules = [w for w in words if w not in _CMAKE_KEYWORDS and "$" not in w]
        found |= {f"pkgconfig({m})" for m in _modules(" ".join(_split_versions(modules)))}
    for match in _CMAKE_PACKAGE.finditer(text):
        if match.group(1) not in _CMAKE_BUILTIN:
            found.add(f"cmake({match.group(1)})")
    for match in _CMAKE_PROGRAM.finditer(text):
        words = match.group(1).split()
        names = words[2:] if len(words) > 1 and words[1] == "NAMES" else words[1:2]
        if names and "REQUIRED" in words and "$" not in names[0] and "/" not in names[0]:
            found.add(f"binary({names[0]})")
    return found


def _split_versions(modules: list[str]) -> list[str]:
    """CMake writes `glib-2.0>=2.70` as one word; pkg-config specs have spaces."""
    return [re.sub(r"(<=|>=|=|<|>)", r" \1 ", module) for module in modules]


def _python_deps(tree: SourceTree) -> set[str]:
    requirements: list[str] = []
    pyproject = tree.toml("pyproject.toml")
    build_system = pyproject.get("build-system", {})
    if isinstance(build_system, dict) and isinstance(build_system.get("requires"), list):
        requirements += [r for r in build_system["requires"] if isinstance(r, str)]
    setup_cfg = tree.ini("setup.cfg")
    if setup_cfg is not None and setup_cfg.has_option("options", "setup_requires"):
        requirements += setup_cfg.get("options", "setup_requires").replace(";", "\n").split("\n")
    names = set()
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match is not None:
            names.add(f"python({normalize_python_name(match.group(1))})")
    return names


def normalize_python_name(name: str) -> str:
    """PEP 503: lower case, runs of `-`, `_` and `.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _strip_comments(text: str, markers: tuple[str, ...]) -> str:
    kept = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if not any(stripped.startswith(marker) for marker in markers):
            kept.append(line)
    return "\n".join(kept)

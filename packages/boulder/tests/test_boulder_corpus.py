"""Every real recipe of the corpus, parsed and expanded (all targets, stages and phases)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from boulder.compiled import CompiledRecipe, compile_recipe
from boulder.errors import BoulderError, RecipeError, UnknownMacroError
from boulder.macros.load import MacroSet
from boulder.phases import BuildContext, Phase
from boulder.recipe.load import load_recipe

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"

# Upstream rejects these too (spec §5: versions starting with `r`).
KNOWN_BAD_VERSIONS = {
    "d/device-quirks", "g/gamescope-session", "g/gamescope-session-opengamepadui",
    "g/gamescope-session-steam-plus",
}  # fmt: skip


def short(path: Path) -> str:
    return f"{path.parent.parent.name}/{path.parent.name}"


Outcomes = dict[Path, CompiledRecipe | BoulderError]


@pytest.fixture(scope="module")
def outcomes(corpus_recipes: list[Path], macros: MacroSet, context: BuildContext) -> Outcomes:
    results: Outcomes = {}
    for path in corpus_recipes:
        try:
            results[path] = compile_recipe(load_recipe(path), macros, context)
        except BoulderError as err:
            results[path] = err
    return results


def test_every_recipe_parses(outcomes: Outcomes) -> None:
    parse_failures = {short(p): str(e) for p, e in outcomes.items() if isinstance(e, RecipeError)}
    assert set(parse_failures) == KNOWN_BAD_VERSIONS, parse_failures
    assert all("version must start with an integer" in m for m in parse_failures.values())


def test_recipe_check_passes_on_99_percent(outcomes: Outcomes) -> None:
    failures = {short(p): str(e) for p, e in outcomes.items() if isinstance(e, BoulderError)}
    unknown = [str(e) for e in outcomes.values() if isinstance(e, UnknownMacroError)]
    passed = len(outcomes) - len(failures)
    warnings.warn(
        f"recipe check: {passed}/{len(outcomes)} pass; failing: "
        + "; ".join(f"{k}: {v}" for k, v in sorted(failures.items())),
        stacklevel=1,
    )
    assert not unknown
    assert passed >= 0.99 * len(outcomes)


def test_package_plans_agree_with_real_manifests(outcomes: Outcomes) -> None:
    """Every package boulder emitted exists in our plan, and its declared rundeps are depends."""
    checked = 0
    for path, outcome in outcomes.items():
        manifest = path.parent / "manifest.x86_64.jsonc"
        if isinstance(outcome, BoulderError) or not manifest.is_file():
            continue
        # The first line is a /** comment */; the rest is JSON.
        emitted = json.loads(manifest.read_text().split("\n", 1)[1])["packages"]
        plan = outcome.packages
        for name, info in emitted.items():
            package = plan.get(name)
            assert package is not None, f"{short(path)}: no package {name} in our plan"
            expected = {
                dep
                for dep in package.rundeps
                if not any(re.search(rx, dep) for rx in package.rundeps_exclude)
            }
            assert expected <= set(info.get("depends", [])), f"{short(path)}: {name}"
        checked += 1
    assert checked >= 0.99 * len(outcomes)


def body(recipe: str, phase: Phase, macros: MacroSet, context: BuildContext) -> str:
    """The phase body of a real recipe, after the preamble's `cd` into the work directory."""
    path = CORPUS / "recipes" / recipe / "stone.yaml"
    if not path.is_file():
        pytest.skip(
            f"corpus recipe {recipe} not found at {path} (the corpus lives beside the repo)"
        )
    compiled = compile_recipe(load_recipe(path), macros, context)
    [script] = [s for s in compiled.scripts if s.phase is phase]
    return script.chunks[0].split('\ncd "', 1)[1].split("\n", 1)[1].strip("\n")


CMAKE_OPTIONS = (
    "cmake -G Ninja \\\n"
    '-B "aerynos-builddir" \\\n'
    '-DCMAKE_BUILD_TYPE="Release" \\\n'
    '-DCMAKE_C_FLAGS_RELEASE="-DNDEBUG" \\\n'
    '-DCMAKE_CXX_FLAGS_RELEASE="-DNDEBUG" \\\n'
    '-DCMAKE_Fortran_FLAGS_RELEASE="-DNDEBUG" \\\n'
    "-DCMAKE_VERBOSE_MAKEFILE=ON \\\n"
    "-DCMAKE_INSTALL_DO_STRIP=OFF \\\n"
    "-DCMAKE_INSTALL_PREFIX=/usr \\\n"
    '-DCMAKE_INSTALL_LIBDIR="lib" \\\n'
    "-DCMAKE_INSTALL_LIBEXECDIR=/usr/lib/double-conversion \\\n"
    "-DCMAKE_LIB_SUFFIX="
)


def test_cmake_recipe(macros: MacroSet, context: BuildContext) -> None:
    recipe = "d/double-conversion"
    assert body(recipe, Phase.SETUP, macros, context) == (
        CMAKE_OPTIONS + " \\\n    -DBUILD_SHARED_LIBS=ON"
    )
    assert body(recipe, Phase.BUILD, macros, context) == (
        'cmake --build "${BUILDDIR:-aerynos-builddir}" --verbose --parallel "4"'
    )
    assert body(recipe, Phase.INSTALL, macros, context) == (
        'DESTDIR="/mason/install" cmake --install "${BUILDDIR:-aerynos-builddir}" --verbose'
    )


def test_meson_recipe(macros: MacroSet, context: BuildContext) -> None:
    recipe = "a/aml"
    assert body(recipe, Phase.SETUP, macros, context) == (
        'if [ ! -e ./meson.build ]; then echo "%meson: no meson.build in $PWD" >&2; exit 1; fi\n'
        'meson setup --buildtype="plain" \\\n'
        '--wrap-mode="nodownload" \\\n'
        '--prefix="/usr" \\\n'
        '--bindir="/usr/bin" \\\n'
        '--sbindir="/usr/sbin" \\\n'
        '--libdir="lib" \\\n'
        '--libexecdir="lib/aml" \\\n'
        '--includedir="/usr/include" \\\n'
        '--datadir="/usr/share" \\\n'
        '--mandir="/usr/share/man" \\\n'
        '--infodir="/usr/share/info" \\\n'
        '--localedir="/usr/share/locale" \\\n'
        '--sysconfdir="/etc" \\\n'
        '--localstatedir="/var" "aerynos-builddir"'
    )
    assert body(recipe, Phase.BUILD, macros, context) == (
        'meson compile --verbose -j "4" -C "aerynos-builddir"'
    )
    assert body(recipe, Phase.INSTALL, macros, context) == (
        'DESTDIR="/mason/install" meson install --no-rebuild -C "aerynos-builddir"'
    )


def test_cargo_recipe(macros: MacroSet, context: BuildContext) -> None:
    recipe = "a/aardvark-dns"
    assert body(recipe, Phase.SETUP, macros, context) == "cargo fetch -v --locked"
    assert body(recipe, Phase.BUILD, macros, context) == (
        'cargo build -v -j "4" --frozen --target x86_64-unknown-linux-gnu --release'
    )
    assert body(recipe, Phase.INSTALL, macros, context) == (
        "install -Dm00755 target/x86_64-unknown-linux-gnu/release/aardvark-dns"
        " -t /mason/install/usr/lib/podman"
    )


def test_autotools_recipe(macros: MacroSet, context: BuildContext) -> None:
    recipe = "n/nano"
    assert body(recipe, Phase.SETUP, macros, context) == (
        'if [ ! -x ./configure ]; then echo "%configure: no executable ./configure in $PWD" >&2;'
        " exit 1; fi\n"
        "export CONFIG_SHELL=/usr/bin/dash SHELL=/usr/bin/dash\n"
        '/usr/bin/dash ./configure --prefix="/usr" \\\n'
        '--bindir="/usr/bin" \\\n'
        '--sbindir="/usr/sbin" \\\n'
        '--build="x86_64-aerynos-linux" \\\n'
        '--host="x86_64-aerynos-linux" \\\n'
        '--libdir="/usr/lib" \\\n'
        '--mandir="/usr/share/man" \\\n'
        '--infodir="/usr/share/info" \\\n'
        '--datadir="/usr/share" \\\n'
        '--sysconfdir="/etc" \\\n'
        '--localstatedir="/var" \\\n'
        '--sharedstatedir="/var/lib" \\\n'
        '--libexecdir="/usr/lib/nano"'
    )
    assert body(recipe, Phase.BUILD, macros, context) == 'make VERBOSE=1 -j "4"'
    assert body(recipe, Phase.INSTALL, macros, context) == (
        'make VERBOSE=1 -j "4" install DESTDIR="/mason/install"'
    )

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.compiled import compile_recipe
from boulder.errors import ScriptError, UnknownMacroError
from boulder.macros.load import MacroSet
from boulder.phases import BuildContext, Phase, PhaseScript, all_scripts, phase_script
from boulder.recipe.load import load_recipe
from boulder.recipe.targets import Stage

HASH = "b" * 64


def script(
    path: Path, macros: MacroSet, context: BuildContext, phase: Phase,
    target: str = "x86_64", stage: Stage = Stage.NONE,
) -> PhaseScript:  # fmt: skip
    found = phase_script(load_recipe(path), macros, context, target, stage, phase)
    assert found is not None
    return found


def body(chunk: str) -> str:
    """The part of a chunk after the preamble's `cd` into the work directory, newlines trimmed."""
    return chunk.split('\ncd "', 1)[1].split("\n", 1)[1].strip("\n")


def test_make_install_expansion(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    out = script(write_recipe("install: '%make_install'\n"), macros, context, Phase.INSTALL)
    assert body(out.chunks[0]) == 'make VERBOSE=1 -j "4" install DESTDIR="/mason/install"'
    assert out.dependencies == {"binary(make)"}


def test_libdir_per_target(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("emul32: true\ninstall: echo %(libdir)\n")
    native = script(path, macros, context, Phase.INSTALL)
    emul = script(path, macros, context, Phase.INSTALL, target="emul32/x86_64")
    assert body(native.chunks[0]) == "echo /usr/lib"
    assert body(emul.chunks[0]) == "echo /usr/lib32"


def test_preamble_and_workdir(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe(
        f"upstreams:\n  - https://h/hello-1.0.tar.gz : {HASH}\n"
        "environment: export FOO=1\nbuild: make\n"
    )
    chunk = script(path, macros, context, Phase.BUILD).chunks[0]
    assert chunk.startswith("#!/usr/bin/bash\nset -o xtrace -o errexit -o pipefail -o nounset\n")
    assert 'export SOURCE_DATE_EPOCH="1700000000"' in chunk
    # prefix = scriptBase + "\n" + environment + "\n"; each chunk = prefix + "\n" + phase text.
    assert chunk.endswith('cd "/mason/build/x86_64/hello-1.0.tar.gz"\nexport FOO=1\n\nmake')


def test_null_environment_is_no_environment(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe(
        "emul32: true\nenvironment: export TOP=1\nbuild: make\n"
        "profiles:\n  - emul32:\n      environment: (null)\n"
    )
    native = script(path, macros, context, Phase.BUILD).chunks[0]
    emul = script(path, macros, context, Phase.BUILD, target="emul32/x86_64").chunks[0]
    assert "export TOP=1" in native
    assert "TOP" not in emul and "(null)" not in emul


def test_prepare_unpacks_without_environment(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe(
        "upstreams:\n"
        f"  - https://h/a%2B1.tar.gz : {HASH}\n"
        f"  - https://h/b.bin :\n      hash: {HASH}\n      unpack: false\n"
        "  - git|https://h/r.git : main\n"
        "environment: export FOO=1\n"
    )
    chunk = script(path, macros, context, Phase.PREPARE).chunks[0]
    assert "FOO" not in chunk
    assert body(chunk) == (
        "mkdir -p a%2B1.tar.gz\n"
        'bsdtar-static xf "/mason/sourcedir/a%2B1.tar.gz" -C "a%2B1.tar.gz" --strip-components=1 '
        '--no-same-owner || { echo "Failed to extract archive"; exit 1; }\n'
        "mkdir -p r.git\n"
        'cp -Ra --no-preserve=ownership "/mason/sourcedir/r.git/." "r.git"'
    )
    assert 'cd "/mason/build/x86_64"' in chunk


def test_percent_in_a_work_directory_stays_literal(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe(
        f"upstreams:\n  - https://h/a%2B1.tar.gz : {HASH}\nbuild: echo %(workdir)\n"
    )
    chunk = script(path, macros, context, Phase.BUILD).chunks[0]
    assert body(chunk) == "echo /mason/build/x86_64/a%2B1.tar.gz"


def test_breakpoints_make_chunks(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    out = script(
        write_recipe("build: |\n  one\n  %break_continue\n  two\n"), macros, context, Phase.BUILD
    )
    assert len(out.chunks) == 2
    assert out.chunks[0].endswith('x86_64"\n\n\none\n')
    assert out.chunks[1].endswith('x86_64"\n\n\n\ntwo\n')
    assert [b.line for b in out.breakpoints] == [1]
    # Spec §2.7: `build: |` on line 6, the breakpoint on the 2nd line of the text.
    assert [out.recipe_line(b) for b in out.breakpoints] == [8]
    assert "# breakpoint (continue) at recipe line 8" in out.text


def test_unknown_action_names_file_phase_and_line(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("setup: ok\nbuild: |\n  %make\n  %frobnicate --now\n")
    with pytest.raises(UnknownMacroError) as info:
        list(all_scripts(load_recipe(path), macros, context))
    assert str(info.value) == f"{path}:9: build (x86_64): undefined action frobnicate"


def test_unknown_definition_in_a_profile(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe(
        "emul32: true\nbuild: make\nprofiles:\n  - emul32:\n"
        "      build: |\n        a\n        %(nope)\n"
    )
    with pytest.raises(UnknownMacroError) as info:
        list(all_scripts(load_recipe(path), macros, context))
    assert str(info.value) == f"{path}:12: build (emul32/x86_64): undefined definition nope"


def test_unknown_macro_in_environment(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("environment: |\n  A=1\n  B=%(nope)\nbuild: make\n")
    with pytest.raises(UnknownMacroError) as info:
        list(all_scripts(load_recipe(path), macros, context))
    assert str(info.value) == f"{path}:8: environment (x86_64): undefined definition nope"


def test_plain_scalar_phase_line(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("install: date +%Y\n")
    with pytest.raises(
        UnknownMacroError, match=rf"^{path}:6: install \(x86_64\): undefined action Y$"
    ):
        list(all_scripts(load_recipe(path), macros, context))


def test_builtin_in_phase_is_refused(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("build: echo %(_name)\n")
    with pytest.raises(ScriptError, match="builtins not allowed"):
        list(all_scripts(load_recipe(path), macros, context))


def test_phase_order_and_pgo_jobs(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("setup: s\nbuild: b\ninstall: i\ncheck: c\nworkload: |\n  w\ncspgo: true\n")
    done = [(s.stage, s.phase) for s in all_scripts(load_recipe(path), macros, context)]
    # No upstreams: nothing to prepare, so that phase is skipped like any empty one.
    pgo = [Phase.SETUP, Phase.BUILD, Phase.WORKLOAD]
    normal = [Phase.SETUP, Phase.BUILD, Phase.INSTALL, Phase.CHECK]
    assert done == [
        *((Stage.ONE, p) for p in pgo), *((Stage.TWO, p) for p in pgo),
        *((Stage.USE, p) for p in normal),
    ]  # fmt: skip
    workload = script(path, macros, context, Phase.WORKLOAD, stage=Stage.ONE)
    assert body(workload.chunks[0]).startswith("w\nllvm-profdata merge")


def test_empty_phases_are_skipped(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe(f"upstreams:\n  - https://h/a.tgz : {HASH}\nsetup: ''\nbuild: make\n")
    phases = [s.phase for s in all_scripts(load_recipe(path), macros, context)]
    assert phases == [Phase.PREPARE, Phase.BUILD]


def test_compiled_recipe_collects_action_dependencies(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("setup: '%configure'\nbuild: '%make'\ninstall: '%cmake_install'\n")
    compiled = compile_recipe(load_recipe(path), macros, context)
    assert compiled.dependencies == {
        "binary(autoconf)", "binary(automake)", "binary(make)", "binary(cmake)",
    }  # fmt: skip

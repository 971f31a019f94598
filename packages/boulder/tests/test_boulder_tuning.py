from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.errors import TuningError
from boulder.macros.load import MacroSet
from boulder.phases import BuildContext, Phase, phase_script
from boulder.recipe.load import load_recipe
from boulder.recipe.targets import Stage

# Spec §2.4: the default x86_64/llvm CFLAGS.
CFLAGS_VECTOR = (
    "-O2 -Werror=odr -Werror=strict-aliasing -Wp,-D_GLIBCXX_ASSERTIONS "
    "-Wp,-U_FORTIFY_SOURCE,-D_FORTIFY_SOURCE=3 -fcf-protection -fexceptions -ffat-lto-objects "
    "-flto=thin -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -fstack-protector "
    "--param ssp-buffer-size=32 -g -fasynchronous-unwind-tables -march=x86-64-v2 "
    "-mtune=ivybridge -mprefer-vector-width=128 -mtls-dialect=gnu2 -pipe -Wformat "
    "-Wformat-security -Wno-error -fPIC"
)


def exported(script: str, variable: str) -> str:
    marker = f'{variable}="'
    start = script.index(marker) + len(marker)
    return script[start : script.index('"', start)]


def build_script(
    path: Path, macros: MacroSet, context: BuildContext, target: str = "x86_64",
    stage: Stage = Stage.NONE, phase: Phase = Phase.BUILD,
) -> str:  # fmt: skip
    script = phase_script(load_recipe(path), macros, context, target, stage, phase)
    assert script is not None
    return script.chunks[0]


def test_default_cflags_match_the_spec_vector(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    script = build_script(write_recipe("build: make\n"), macros, context)
    assert exported(script, "CFLAGS") == CFLAGS_VECTOR
    assert exported(script, "CXXFLAGS") == CFLAGS_VECTOR


def test_frame_pointer_disabled(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("build: make\ntuning:\n  - frame-pointer: false\n")
    cflags = exported(build_script(path, macros, context), "CFLAGS")
    assert "-fomit-frame-pointer -momit-leaf-frame-pointer" in cflags
    assert "-fno-omit-frame-pointer" not in cflags


def test_options_and_gnu_toolchain(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe(
        "build: make\ntoolchain: gnu\ntuning:\n  - lto: full\n  - optimize: speed\n"
    )
    script = build_script(path, macros, context)
    cflags = exported(script, "CFLAGS")
    assert "-flto=4 -flto-partition=one" in cflags  # %(jobs) expands inside flags
    assert "-O3" in cflags and "-O2" not in cflags
    assert "-Werror=lto-type-mismatch" in cflags
    assert exported(script, "CC") == "gcc"


def test_emul32_uses_its_arch_flags(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("build: make\nemul32: true\n")
    script = build_script(path, macros, context, target="emul32/x86_64")
    assert "-march=i686 -mtune=i686" in exported(script, "CFLAGS")
    assert exported(script, "CC") == "clang -m32"


def test_mold_appends_linker_choice(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    script = build_script(write_recipe("build: make\nmold: true\n"), macros, context)
    assert exported(script, "CFLAGS").endswith(" -fuse-ld=mold")
    assert exported(script, "RUSTFLAGS").endswith(" -Clink-arg=-fuse-ld=mold")
    assert exported(script, "LD") == "ld.mold"


def test_pgo_stage_flags(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext
) -> None:
    path = write_recipe("build: make\nworkload: ./bench\n")
    one = build_script(path, macros, context, stage=Stage.ONE)
    use = build_script(path, macros, context, stage=Stage.USE)
    assert "-fprofile-generate=/mason/build/x86_64-pgo/IR" in exported(one, "CFLAGS")
    assert "-fprofile-use=/mason/build/x86_64-pgo/combined.profdata" in exported(use, "CFLAGS")


@pytest.mark.parametrize(
    ("item", "message", "line"),
    [
        ("  - bogus\n", "unknown group bogus", 8),
        ("  - lto: medium\n", "unknown value medium for group lto", 8),
    ],
)
def test_tuning_errors_name_the_item(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext,
    item: str, message: str, line: int,
) -> None:  # fmt: skip
    path = write_recipe("build: make\ntuning:\n" + item)
    with pytest.raises(TuningError) as info:
        build_script(path, macros, context)
    assert str(info.value) == f"{path}:{line}: tuning[0]: {message}"

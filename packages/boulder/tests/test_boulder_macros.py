from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.cli import main
from boulder.errors import MacroError
from boulder.macros.catalog import catalog, find
from boulder.macros.load import MacroSet, load_macros
from boulder.macros.tuning import Tuning, TuningRequest
from boulder.phases import BuildContext, Phase, phase_script
from boulder.recipe.load import load_recipe
from boulder.recipe.targets import Stage

FLAG_VARIABLE = re.compile(r"\b((?:C|CXX|F|LD|D|RUST|VALA|GO)FLAGS)=\"([^\"]*)\"")
UPSTREAM_DATA = (
    Path(__file__).resolve().parents[3].parent / "shared/corpus/os-tools-data/boulder/data"
)


def test_bundled_files(macros: MacroSet) -> None:
    assert set(macros.arch) == {"base", "x86_64", "emul32/x86_64", "aarch64"}
    names = {file.identifier for file in macros.actions}
    assert {"autotools", "cmake", "meson", "ninja", "cargo", "python", "perl", "ruby"} <= names
    assert {"golang", "qt-kde", "pgo", "misc", "ccache", "bazel"} <= names
    # Every action documents itself: `recipe macros` shows the first line.
    assert all(a.description for f in macros.actions for a in f.actions.values())


def test_aarch64_flags_depend_on_the_toolchain(macros: MacroSet) -> None:
    tuning = Tuning.from_files(macros.arch_file("base"), macros.arch_file("aarch64"), ())
    llvm = tuning.compile([], [], "llvm")["c"]
    gnu = tuning.compile([TuningRequest("harden", option="lvl2")], [], "gnu")["c"]
    assert "-mtune=cortex-a72 " in llvm
    assert "-mtune=cortex-a72.cortex-a53" in gnu
    assert "-fstack-protector-strong" in gnu


def test_catalog_lookup_forms(macros: MacroSet) -> None:
    entries = catalog(macros, "x86_64")
    assert [e.reference for e in find(entries, "%make")] == ["%make"]
    assert [e.reference for e in find(entries, "%(libdir)")] == ["%(libdir)"]
    assert [e.reference for e in find(entries, "jobs")] == ["%(jobs)"]
    [march] = find(entries, "march")
    assert (march.text, march.source) == ("x86-64-v2", "x86_64")


def write_data(root: Path, base: str, arch: str = "definitions:\n  - libsuffix: ''\n") -> Path:
    (root / "macros/arch").mkdir(parents=True)
    (root / "macros/actions").mkdir()
    (root / "macros/arch/base.yaml").write_text(base)
    (root / "macros/arch/x86_64.yaml").write_text(arch)
    return root


MINIMAL_BASE = """\
actions:
  - scriptBase:
      description: preamble
      command: "#!/bin/sh"
  - make:
      description: custom make
      command: gmake -j%(jobs)
definitions:
  - jobs: "%(_jobs)"
tuning:
  - architecture: {enabled: arch}
flags:
  - arch: {c: -mcustom}
"""


def test_invalid_macro_file_names_file_and_key(tmp_path: Path) -> None:
    root = write_data(tmp_path, "actions:\n  - broken:\n      description: no command\n")
    with pytest.raises(MacroError) as info:
        load_macros(root)
    assert str(info.value) == (
        f"{root}/macros/arch/base.yaml: actions.broken: an action needs a command"
    )


def test_data_dir_option_replaces_the_bundled_macros(
    tmp_path: Path, write_recipe: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_data(tmp_path / "data", MINIMAL_BASE)
    recipe = write_recipe("build: '%make'\n")
    with pytest.raises(SystemExit) as info:
        main(["--data-dir", str(root), "recipe", "show", str(recipe), "-j", "2"])
    assert info.value.code == 0
    # `%scriptBase`, an empty environment line, then the phase: nothing is trimmed.
    assert capsys.readouterr().out == "#!/bin/sh\n\n\ngmake -j2\n"


@pytest.mark.skipif(
    not UPSTREAM_DATA.is_dir(), reason=f"upstream macro data not at {UPSTREAM_DATA}"
)
@pytest.mark.parametrize(
    ("extra", "target", "stage"),
    [
        ("", "x86_64", Stage.NONE),
        ("tuning:\n  - lto: full\n  - nosemantic\n", "x86_64", Stage.NONE),
        (
            "toolchain: gnu\ntuning:\n  - optimize: size\n  - frame-pointer: false\n",
            "x86_64",
            Stage.NONE,
        ),
        ("tuning:\n  - harden: lvl2\n  - debug: lines\n  - icf: all\n", "x86_64", Stage.NONE),
        ("emul32: true\n", "emul32/x86_64", Stage.NONE),
        ("workload: w\nsamplepgo: true\n", "x86_64", Stage.USE),
        ("workload: w\ntoolchain: gnu\n", "x86_64", Stage.ONE),
        ("mold: true\ntuning:\n  - harden: false\n  - visibility: hidden\n", "x86_64", Stage.NONE),
    ],
)
def test_upstream_macro_files_load_and_agree_on_flags(
    write_recipe: Callable[[str], Path], macros: MacroSet, context: BuildContext,
    extra: str, target: str, stage: Stage,
) -> None:  # fmt: skip
    # Our loader reads upstream's files (the schema is shared), and both give the same flags.
    theirs = load_macros(UPSTREAM_DATA.resolve())
    loaded = load_recipe(write_recipe("build: make\n" + extra))

    def flags(data: MacroSet) -> dict[str, str]:
        script = phase_script(loaded, data, context, target, stage, Phase.BUILD)
        assert script is not None
        return dict(FLAG_VARIABLE.findall(script.chunks[0]))

    ours = flags(macros)
    assert len(ours) == 8
    assert ours == flags(theirs)


def test_parsed_macro_files_are_kept_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boulder.macros.load as load

    data = tmp_path / "data"
    shutil.copytree(load.bundled_data_dir(), data)
    cache = tmp_path / "cache"
    first = load.load_macros.__wrapped__(data, cache)
    assert len(list(cache.glob("*.json"))) == len(list((data / "macros").rglob("*.yaml")))

    def no_yaml(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a kept file was parsed again")

    monkeypatch.setattr(load, "YAML", no_yaml)
    again = load.load_macros.__wrapped__(data, cache)
    assert again.arch.keys() == first.arch.keys() and len(again.actions) == len(first.actions)
    monkeypatch.undo()
    base = data / "macros/arch/base.yaml"
    base.write_text(base.read_text() + "\n# edited\n")
    monkeypatch.setattr(load, "YAML", no_yaml)
    with pytest.raises(AssertionError, match="parsed again"):
        load.load_macros.__wrapped__(data, cache)

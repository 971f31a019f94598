from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from boulder.errors import RecipeError
from boulder.recipe.load import load_recipe
from boulder.recipe.model import GitUpstream, PlainUpstream, TuningItem
from boulder.recipe.targets import NoTargetsError, Stage, build_targets, stages

HASH = "a" * 64


def test_required_keys_only_gives_the_defaults(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(write_recipe("")).recipe
    assert (recipe.name, recipe.version, recipe.release) == ("hello", "1.0", 1)
    assert recipe.toolchain == "llvm"
    assert recipe.strip and recipe.debug and recipe.lastrip
    flags = (recipe.networking, recipe.emul32, recipe.mold, recipe.cspgo, recipe.compressman)
    assert not any(flags)
    assert build_targets(recipe) == ("x86_64",)
    assert recipe.license == ("MIT",)


def test_directory_argument_reads_its_stone_yaml(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe("")
    assert load_recipe(path.parent).path == path


def test_missing_recipe(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=f'recipe file does not exist: "{tmp_path}/nope"'):
        load_recipe(tmp_path / "nope")


@pytest.mark.parametrize(("text", "expected"), [("49.0", "49.0"), ("1.10", "1.1"), ("7", "7")])
def test_numeric_versions_are_stringified(
    write_recipe: Callable[..., Path], text: str, expected: str
) -> None:
    body = f"name: x\nversion: {text}\nrelease: 1\nhomepage: h\nlicense: MIT\n"
    assert load_recipe(write_recipe(body, minimal=False)).recipe.version == expected


def test_version_must_start_with_a_digit(write_recipe: Callable[..., Path]) -> None:
    path = write_recipe(
        "name: x\nrelease: 1\nversion: r5\nhomepage: h\nlicense: MIT\n", minimal=False
    )
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value) == (
        f"{path}:3: version: version must start with an integer (found 'version: r5')"
    )


def test_release_must_be_positive(write_recipe: Callable[..., Path]) -> None:
    path = write_recipe(
        "name: x\nversion: 1\nrelease: 0\nhomepage: h\nlicense: MIT\n", minimal=False
    )
    with pytest.raises(
        RecipeError, match=r":3: release: release must be > 0 \(found 'release: 0'\)"
    ):
        load_recipe(path)


def test_missing_homepage_names_the_key(write_recipe: Callable[..., Path]) -> None:
    path = write_recipe("name: x\nversion: 1\nrelease: 1\nlicense: MIT\n", minimal=False)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value) == f"{path}: homepage: required key is missing"


def test_yes_is_not_a_boolean(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe("summary: s\nstrip: yes\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value) == f"{path}:7: strip: invalid boolean: expected true or false"


def test_string_booleans_are_accepted(write_recipe: Callable[[str], Path]) -> None:
    assert load_recipe(write_recipe('networking: "true"\n')).recipe.networking is True


def test_unknown_keys_are_ignored(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(
        write_recipe("tune:\n  - lto\npackages:\n  - x:\n      license: MIT\n")
    ).recipe
    assert recipe.tuning == ()


def test_nested_error_points_at_the_nested_line(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe("packages:\n  - '%(name)-extra':\n      summary: s\n      rundeps: [1]\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}:9: packages[0].%(name)-extra.rundeps")


def test_invalid_yaml_names_the_line(write_recipe: Callable[[str], Path]) -> None:
    path = write_recipe("build: |\n  ok\n bad: [\n")
    with pytest.raises(RecipeError, match=rf"^{path}:\d+: invalid YAML"):
        load_recipe(path)


def test_upstream_forms(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(
        write_recipe(
            "upstreams:\n"
            f"  - https://h/d/foo-1.0.tar.xz : {HASH}\n"
            f"  - https://h/d/bar%2B1.zip :\n      hash: {HASH}\n      unpack: false\n"
            "      rename: bar.zip\n      stripdirs: 0\n      unpackdir: src\n"
            "  - git|https://h/r.git : v1.0\n"
            "  - git|https://h/s.git :\n      ref: main\n      clonedir: s\n      staging: x\n"
        )
    ).recipe
    plain, mapped, git, git_map = recipe.upstreams
    assert plain == PlainUpstream("https://h/d/foo-1.0.tar.xz", HASH)
    assert (plain.file_name, plain.directory, plain.stripdirs, plain.unpack) == (
        "foo-1.0.tar.xz", "foo-1.0.tar.xz", 1, True,
    )  # fmt: skip
    assert mapped == PlainUpstream("https://h/d/bar%2B1.zip", HASH, "bar.zip", False, 0, "src")
    assert git == GitUpstream("https://h/r.git", "v1.0")
    assert (git.directory, git_map.directory) == ("r.git", "s")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("  - https://h/f.tgz : abc\n", "hash too short: abc"),
        (
            "  - git|https://h/f :\n      hash: abcdef\n",
            "mismatched URL type and upstream properties",
        ),
        ("  - https://h/f :\n      ref: main\n", "mismatched URL type and upstream properties"),
    ],
)
def test_upstream_errors(write_recipe: Callable[[str], Path], item: str, message: str) -> None:
    path = write_recipe("upstreams:\n" + item)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}:7: upstreams[0]")


def test_tuning_items(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(
        write_recipe("tuning:\n  - lto\n  - icf: true\n  - harden: false\n  - optimize: speed\n")
    ).recipe
    assert recipe.tuning == (
        TuningItem("lto"), TuningItem("icf"), TuningItem("harden", enable=False),
        TuningItem("optimize", option="speed"),
    )  # fmt: skip


def test_targets_and_profiles(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(
        write_recipe("emul32: true\nbuild: a\nprofiles:\n  - emul32:\n      build: b\n")
    ).recipe
    assert build_targets(recipe) == ("emul32/x86_64", "x86_64")
    profile = recipe.profile_for("emul32/x86_64")
    assert profile is not None and profile.build == "b"
    assert recipe.profile_for("x86_64") is None


def test_architectures_select_targets(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(write_recipe("architectures: [emul32]\n")).recipe
    assert build_targets(recipe) == ("emul32/x86_64",)
    with pytest.raises(NoTargetsError):
        build_targets(load_recipe(write_recipe("architectures: [riscv64]\n")).recipe)


def test_pgo_stages(write_recipe: Callable[[str], Path]) -> None:
    plain = load_recipe(write_recipe("workload: run\n")).recipe
    assert stages(plain, "x86_64") == (Stage.ONE, Stage.USE)
    cs = load_recipe(write_recipe("workload: run\ncspgo: true\n")).recipe
    assert stages(cs, "x86_64") == (Stage.ONE, Stage.TWO, Stage.USE)
    # A profile that applies is read alone: no workload there means no PGO for that target.
    emul = load_recipe(
        write_recipe("emul32: true\nworkload: run\nprofiles:\n  - emul32:\n      build: b\n")
    ).recipe
    assert stages(emul, "emul32/x86_64") == (Stage.NONE,)
    assert stages(emul, "x86_64") == (Stage.ONE, Stage.USE)


def test_paths_with_kinds(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(write_recipe("paths:\n  - /usr/share/x\n  - /usr/bin/y: exe\n")).recipe
    assert [(p.glob, p.kind) for p in recipe.paths] == [
        ("/usr/share/x", "any"),
        ("/usr/bin/y", "exe"),
    ]
    with pytest.raises(RecipeError, match="paths"):
        load_recipe(write_recipe("paths:\n  - /usr/bin/y: folder\n"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("profiles:\n  - x86_64: text\n", "valid dictionary or instance of Profile"),
        ("packages:\n  - extra:\n", "Input should be a valid dictionary or instance of Package"),
        (
            f"upstreams:\n  - https://h/a.tar:\n      hash: {HASH}\n      stripdirs: -1\n",
            "upstreams[0].https://h/a.tar.stripdirs: Input should be greater than or equal to 0",
        ),
        ("environment: 5\n", "environment: expected text, found the number 5"),
        ("toolchain: gcc\n", "Input should be 'llvm' or 'gnu'"),
        ("rundeps: {a: b}\n", "Input should be a valid tuple"),
    ],
)
def test_messages_kept_from_the_pydantic_models(
    write_recipe: Callable[[str], Path], extra: str, message: str
) -> None:
    # The schema left pydantic's BaseModel for pydantic-core; what a recipe author reads did not
    # change (the wording itself is a separate matter).
    with pytest.raises(RecipeError) as info:
        load_recipe(write_recipe(extra))
    assert str(info.value).endswith(message)


def test_dashed_keys_read_by_either_name(write_recipe: Callable[[str], Path]) -> None:
    recipe = load_recipe(write_recipe("rundeps-exclude: a\nprovides_exclude: [b]\n")).recipe
    assert (recipe.rundeps_exclude, recipe.provides_exclude) == (("a",), ("b",))


def test_a_check_loads_pydantic_core_only(tmp_path: Path) -> None:
    # pydantic's model layer (and its plugin discovery) was half of `boulder recipe check`'s
    # start-up; bench/boulder_startup.py times it, this keeps it from coming back unnoticed.
    probe = (
        "import sys\nfrom boulder.cli import main\n"
        "try:\n    main(['recipe', 'check', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pydantic_core'}))\n"
    )
    recipe = Path(__file__).resolve().parents[3] / "examples" / "hello" / "stone.yaml"
    done = subprocess.run(
        [sys.executable, "-c", probe, str(recipe)], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [f"{recipe}: ok", "['pydantic_core']"]

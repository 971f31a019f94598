"""Real builds in containers on the host profile: a C library and program from a tarball."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from boulder.build import BuildOptions, build
from boulder.cli import main
from boulder.errors import BuildError, UpstreamError
from boulder.macros.load import MacroSet
from stone import FileKind, StoneReader

from .conftest import Project

HEAD = "name: foo\nversion: 1.0\nrelease: 1\nhomepage: h\nlicense: MIT\n"

pytestmark = pytest.mark.usefixtures("containers", "toolchain")


@pytest.fixture(scope="session")
def toolchain() -> None:
    missing = [tool for tool in ("gcc", "make", "objcopy", "strip") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the host profile builds with the host's tools; missing: {missing}")


def _options(project: Project, lines: list[str]) -> BuildOptions:
    return BuildOptions(
        output=project.output, cache_dir=project.cache, jobs=2, source_date_epoch=1700000000,
        out=lines.append,
    )  # fmt: skip


def _texts(relations: object) -> set[str]:
    return {str(r) for r in relations}  # type: ignore[attr-defined]


def test_library_and_program_split_with_relations(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    project = foo_project()
    lines: list[str] = []
    result = build(project.recipe, macros, _options(project, lines))
    names = sorted(p.file.name for p in result.packages)
    assert names == [
        "foo-1.0-1-1-x86_64.stone",
        "foo-dbginfo-1.0-1-1-x86_64.stone",
        "foo-devel-1.0-1-1-x86_64.stone",
        "foo-libs-1.0-1-1-x86_64.stone",
    ]
    assert sorted(p.name for p in project.output.iterdir()) == names
    stones = {p.meta.name: p for p in result.packages}

    libs = stones["foo-libs"]
    assert _texts(libs.meta.provides) == {"soname(libfoo.so.1(x86_64))"}
    assert libs.files == ("/usr/lib/libfoo.so.1", "/usr/lib/libfoo.so.1.0")
    assert libs.meta.summary == "The foo library"

    program = stones["foo"]
    depends = _texts(program.meta.depends)
    assert {"soname(libfoo.so.1(x86_64))", "soname(libc.so.6(x86_64))"} <= depends
    assert any(d.startswith("interpreter(/") for d in depends)
    assert _texts(program.meta.provides) == {"binary(foo-answer)"}
    assert program.meta.build_release == 1 and program.meta.architecture == "x86_64"

    devel = stones["foo-devel"]
    assert devel.files == ("/usr/include/foo.h", "/usr/lib/libfoo.so", "/usr/lib/pkgconfig/foo.pc")
    assert _texts(devel.meta.provides) == {"pkgconfig(foo)"}
    assert _texts(devel.meta.depends) == {"name(foo)"}

    debug = stones["foo-dbginfo"]
    assert len(debug.files) == 2
    assert all(f.startswith("/usr/lib/debug/.build-id/") for f in debug.files)

    # The shipped files are stripped, linked to their debug info, and owned by root.
    with StoneReader(project.output / "foo-1.0-1-1-x86_64.stone") as reader:
        (entry,) = reader.layout()
        assert (entry.path, entry.kind, entry.uid, entry.gid) == (
            "bin/foo-answer", FileKind.REGULAR, 0, 0,
        )  # fmt: skip
    shipped = project.cache / "root/foo-1.0-1/mason/install/usr/bin/foo-answer"
    sections = subprocess.run(
        ["objdump", "-h", str(shipped)], capture_output=True, text=True, check=True
    ).stdout
    assert ".gnu_debuglink" in sections and ".debug_info" not in sections

    assert "│A│ × /etc/foo.conf (non /usr/ file)" in lines
    assert any(line.startswith("│B│ ") for line in lines)
    # The log has every line printed, plus bash's trace of each command.
    logged = result.log.read_text(encoding="utf-8").splitlines()
    assert [line for line in logged if not re.match(r"│.│ \++ ", line)] == lines
    assert any(line.startswith("│B│ + ") for line in logged)
    assert not any(line.startswith("│B│ + ") for line in lines)

    report = (project.recipe.parent / "manifest.x86_64.jsonc").read_text(encoding="utf-8")
    assert report.startswith("/** Human readable report. This is not consumed by boulder */\n{\n\t")
    assert "foo-dbginfo" not in report and '"source-release": "1"' in report
    assert (project.recipe.parent / "manifest.x86_64.bin").is_file()


def test_failing_phase_names_phase_line_and_status(
    foo_project: Callable[..., Project], capsys: pytest.CaptureFixture[str]
) -> None:
    project = foo_project(recipe=HEAD + "setup: |\n  echo setting up\nbuild: |\n  true\n  exit 3\n")
    argv = [
        "build",
        str(project.recipe),
        "-o",
        str(project.output),
        "--cache-dir",
        str(project.cache),
    ]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    # bash's trace is in the build log the error names, not on the terminal (without -v).
    assert "│Build" in out and "│S│ setting up" in out and "│B│ + exit 3" not in out
    assert err.startswith(
        f"boulder: error: {project.recipe}:9: build (x86_64): failed with status code 3"
    )
    log = Path(err.rpartition("(build log: ")[2].rstrip(")\n"))
    assert "│B│ + exit 3" in log.read_text()
    assert list(project.output.iterdir()) == []


def test_wrong_upstream_hash_stops_before_any_phase(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    wrong = "ab" * 32
    project = foo_project(hash=wrong)
    lines: list[str] = []
    with pytest.raises(UpstreamError) as raised:
        build(project.recipe, macros, _options(project, lines))
    real = subprocess.run(
        ["sha256sum", str(project.tarball)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert str(raised.value) == (
        f'upstream: hash mismatch for foo-1.0.tar.gz, expected "{wrong}" got "{real}"'
    )
    assert not any(line.startswith(("│", "x86_64")) for line in lines)
    assert not list((project.cache / "upstreams").rglob("*.part"))
    assert [p for p in (project.cache / "upstreams").rglob("*") if p.is_file()] == []


def test_exit_breakpoint_without_terminal_stops_the_build(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    project = foo_project(recipe=HEAD + "build: |\n  echo one\n  %break_exit\n  echo two\n")
    lines: list[str] = []
    with pytest.raises(BuildError, match=r"stone.yaml:8: build \(x86_64\): breakpoint with exit"):
        build(project.recipe, macros, _options(project, lines))
    assert "│B│ one" in lines and "│B│ two" not in lines
    assert "Breakpoint at line 8 (exit)" in "\n".join(lines)


def test_workload_runs_pgo_stages_in_order(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    project = foo_project(
        recipe=HEAD + 'toolchain: gnu\nbuild: |\n  echo "build $PGO_STAGE"\n'
        "workload: |\n  echo workload\ninstall: |\n  echo install\n"
    )
    lines: list[str] = []
    policy = os.sched_getscheduler(0)
    result = build(project.recipe, macros, _options(project, lines))
    # The build ran under SCHED_BATCH; boulder's own priority is back afterwards.
    assert "└─ priority set." in lines and os.sched_getscheduler(0) == policy
    wanted = ("│pgo-", "││B│ build", "││W│ workload", "││I│ install", "│I│ install")
    assert [line for line in lines if line.startswith(wanted)] == [
        "│pgo-stage1", "││B│ build ONE", "││W│ workload",
        "│pgo-use", "││B│ build USE", "││I│ install",
    ]  # fmt: skip
    assert result.packages == ()


def test_an_output_that_cannot_be_a_directory_fails_first(
    foo_project: Callable[..., Project], macros: MacroSet, tmp_path: Path
) -> None:
    project = foo_project()
    (tmp_path / "file").write_text("")
    options = BuildOptions(
        output=tmp_path / "file" / "out", cache_dir=project.cache, jobs=1, source_date_epoch=1
    )
    with pytest.raises(BuildError, match=r"file/out: cannot make the output directory"):
        build(project.recipe, macros, options)
    assert not project.cache.exists()


def test_cleanup_leaves_only_the_packages(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    project = foo_project()
    lines: list[str] = []
    output = project.output / "made" / "here"  # a missing output directory is made
    options = BuildOptions(
        output=output, cache_dir=project.cache, jobs=2, source_date_epoch=1,
        cleanup=True, out=lines.append,
    )  # fmt: skip
    build(project.recipe, macros, options)
    assert len(list(output.glob("*.stone"))) == 4
    for leftover in ("root", "build", "artefacts"):
        assert list((project.cache / leftover).iterdir()) == []
    assert [p for p in (project.cache / "upstreams").rglob("*") if p.is_file()] == []
    assert not any(line.startswith("Warning") for line in lines)


def test_verify_against_a_manifest(foo_project: Callable[..., Project], macros: MacroSet) -> None:
    project = foo_project()
    build(project.recipe, macros, _options(project, []))
    manifest = project.recipe.parent / "manifest.x86_64.bin"
    report = project.recipe.parent / "manifest.x86_64.jsonc"
    before = (manifest.stat().st_mtime_ns, report.stat().st_mtime_ns)
    lines: list[str] = []
    options = replace(_options(project, lines), verify=manifest)
    build(project.recipe, macros, options)
    assert f'Verified manifest "{manifest}"' in lines
    assert (manifest.stat().st_mtime_ns, report.stat().st_mtime_ns) == before

    with pytest.raises(BuildError, match="Binary manifest required for verification"):
        build(project.recipe, macros, replace(options, verify=report))
    project.recipe.write_text(
        project.recipe.read_text(encoding="utf-8").replace("release: 1", "release: 2"),
        encoding="utf-8",
    )
    for stone in project.output.iterdir():
        stone.unlink()
    with pytest.raises(BuildError, match="Built manifest does not match verification manifest"):
        build(project.recipe, macros, options)
    assert list(project.output.iterdir()) == []


def test_emul32_target_builds_first_into_its_own_package(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    project = foo_project(
        recipe=HEAD + "emul32: true\ninstall: |\n  pwd\n  mkdir -p %(installroot)%(libdir)\n"
        "  echo data > %(installroot)%(libdir)/foo.txt\n"
    )
    lines: list[str] = []
    result = build(project.recipe, macros, _options(project, lines))
    assert [line for line in lines if line.startswith("│I│ /mason/build")] == [
        "│I│ /mason/build/emul32/x86_64", "│I│ /mason/build/x86_64",
    ]  # fmt: skip
    files = {p.file.name: p.files for p in result.packages}
    assert files == {
        "foo-1.0-1-1-x86_64.stone": ("/usr/lib/foo.txt",),
        "foo-32bit-1.0-1-1-x86_64.stone": ("/usr/lib32/foo.txt",),
    }


def test_symlinks_made_by_the_build_are_not_followed_outside(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    # Followed on the host (as root), this install root would be the host's own /usr.
    project = foo_project(recipe=HEAD + "install: |\n  ln -s /usr /mason/install\n")
    with pytest.raises(BuildError, match="mason/install is a symlink made by the build"):
        build(project.recipe, macros, _options(project, []))


def test_network_is_isolated_unless_the_recipe_asks(
    foo_project: Callable[..., Project], macros: MacroSet
) -> None:
    project = foo_project(
        recipe=HEAD
        + "build: |\n  hostname\n  sed -n 's/^ *\\([a-z0-9]*\\):.*/net \\1/p' /proc/net/dev\n"
    )
    lines: list[str] = []
    build(project.recipe, macros, _options(project, lines))
    assert [line for line in lines if line.startswith("│B│ net ")] == ["│B│ net lo"]
    assert "│B│ boulder" in lines


def test_git_upstream_builds_and_its_ref_is_pinned(
    foo_project: Callable[..., Project], macros: MacroSet, tmp_path: Path
) -> None:
    if shutil.which("git") is None:
        pytest.skip("needs the host's git")
    repo = tmp_path / "src.git"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "hello.txt").write_text("from git\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "one"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "tag", "v1"], check=True)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    project = foo_project(
        recipe=HEAD + f"upstreams:\n  - git|{repo.as_uri()}:\n      ref: v1  # a tag\n"
        "build: |\n  pwd\n  cat hello.txt\n"
    )
    lines: list[str] = []
    # The repository is outside the recipe's directory: allowed, as the user may.
    options = replace(_options(project, lines), allow_local_upstreams=True)
    build(project.recipe, macros, options)
    assert "│B│ /mason/build/x86_64/src.git" in lines and "│B│ from git" in lines
    assert f"      ref: {commit} # v1  # a tag\n" in project.recipe.read_text()
    assert any(line.startswith("Warning | git ref v1 ") for line in lines)
    lines.clear()
    build(project.recipe, macros, options)
    assert not any(line.startswith("Warning") for line in lines)

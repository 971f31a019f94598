"""Analysis decisions: pure functions over paths, ELF facts and metadata texts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard

from boulder.build.analysis import Analyser, AnalysisOptions, ignore_reason
from boulder.build.analysis.binary import binary_provides
from boulder.build.analysis.cmake import cmake_provides
from boulder.build.analysis.compressman import compressible
from boulder.build.analysis.elf import (
    ElfFacts,
    debug_path,
    elf_relations,
    read_elf,
    strip_arguments,
)
from boulder.build.analysis.pkgconfig import (
    is_pkgconfig,
    pkgconfig_depends,
    pkgconfig_provides,
    required_names,
)
from boulder.build.analysis.python import normalise, python_relations
from boulder.build.collect import walk_install_root
from boulder.packages import CollectionRule


def test_ignored_paths() -> None:
    assert ignore_reason("/etc/x.conf", lastrip=True) == "non /usr/ file"
    assert ignore_reason("/usrx/a", lastrip=True) == "non /usr/ file"
    assert ignore_reason("/usr/lib/libfoo.la", lastrip=True) == "libtool file"
    assert ignore_reason("/usr/lib32/x/libfoo.la", lastrip=True) == "libtool file"
    assert ignore_reason("/usr/lib/libfoo.la", lastrip=False) is None
    assert ignore_reason("/usr/libexec/foo.la", lastrip=True) is None


def test_binary_provides() -> None:
    assert binary_provides("/usr/bin/nano") == ["binary(nano)"]
    assert binary_provides("/usr/sbin/ip") == ["sysbinary(ip)"]
    assert binary_provides("/usr/bin/sub/tool") == ["binary(tool)"]
    assert binary_provides("/usr/binx/tool") == []


def test_cmake_provides() -> None:
    assert cmake_provides("/usr/lib/cmake/Foo/FooConfig.cmake") == ["cmake(Foo)"]
    assert cmake_provides("/usr/lib/cmake/foo/foo-config.cmake") == ["cmake(foo)"]
    assert cmake_provides("/usr/lib/cmake/Foo/Foo-Config.cmake") == []
    assert cmake_provides("/usr/lib/cmake/Foo/FooTargets.cmake") == []


def test_python_metadata() -> None:
    text = (
        "Metadata-Version: 2.1\nName: Ruamel.YAML_clib\nVersion: 1\n"
        "Requires-Dist: typing_extensions>=4\nRequires-Dist: pytest; extra == 'test'\n"
        'Requires-Dist: never; python_version < "2"\n\nBody text\n'
    )
    provides, depends = python_relations(text)
    assert provides == ["python(ruamel-yaml-clib)"]
    assert depends == ["python(typing-extensions)"]
    assert normalise("A__b.-C") == "a-b-c"


def test_pkgconfig_requirements_parsed() -> None:
    text = "v=bar\nRequires: zlib >= 1.2, ${v}\nRequires.private: libpng16 x11 = 1\n"
    assert required_names(text) == ["zlib", "bar", "libpng16", "x11"]
    assert is_pkgconfig("/usr/share/pkgconfig/a.pc") and not is_pkgconfig("/usr/lib/a.pc")
    assert pkgconfig_provides("/usr/lib32/pkgconfig/z.pc") == ["pkgconfig32(z)"]


def test_pkgconfig_depends_32bit_only_with_a_32bit_provider(tmp_path: Path) -> None:
    lib32 = tmp_path / "usr/lib32/pkgconfig"
    lib32.mkdir(parents=True)
    pc = lib32 / "foo.pc"
    pc.write_text("Name: foo\nDescription: d\nVersion: 1\nRequires: bar, missing\n")
    (lib32 / "bar.pc").write_text("Name: bar\nDescription: d\nVersion: 1\n")
    found = pkgconfig_depends("/usr/lib32/pkgconfig/foo.pc", pc, [lib32], [lib32])
    assert found == ["pkgconfig32(bar)", "pkgconfig(missing)"]


def _facts(**changes: object) -> ElfFacts:
    return ElfFacts(isa="x86_64", elf32=False, **changes)  # type: ignore[arg-type]


def test_elf_needed_found_beside_is_named_by_path() -> None:
    facts = _facts(needed=("libc.so.6", "libplug.so"), interpreter="/usr/lib/ld-linux-x86-64.so.2")
    existing = {"/usr/lib/foo/libplug.so"}
    provides, depends = elf_relations("/usr/lib/foo/x.so", facts, existing.__contains__)
    assert depends == [
        "soname(libc.so.6(x86_64))",
        "soname(foo/libplug.so(x86_64))",
        "interpreter(/usr/lib/ld-linux-x86-64.so.2(x86_64))",
    ]
    assert provides == ["soname(foo/x.so(x86_64))"]


def test_elf_runpath_with_origin() -> None:
    facts = _facts(needed=("libz.so.1",), runpath=("$ORIGIN/../lib/private",))
    _provides, depends = elf_relations(
        "/usr/bin/tool", facts, {"/usr/lib/private/libz.so.1"}.__contains__
    )
    assert depends == ["soname(private/libz.so.1(x86_64))"]


def test_elf_soname_and_loader_provides() -> None:
    provides, _ = elf_relations("/usr/lib/libfoo.so.1.2", _facts(soname="libfoo.so.1"), bool)
    assert provides == ["soname(libfoo.so.1(x86_64))"]
    loader, _ = elf_relations("/usr/lib/ld-linux-x86-64.so.2", _facts(), lambda _p: False)
    assert "interpreter(/lib64/ld-linux-x86-64.so.2(x86_64))" in loader
    assert "soname(ld-linux-x86-64.so.2(x86_64))" in loader


def test_debug_paths_and_strip_arguments() -> None:
    assert debug_path(_facts(build_id="abcdef")) == "/usr/lib/debug/.build-id/ab/cdef.debug"
    assert debug_path(ElfFacts("386", True, build_id="abcdef")) == (
        "/usr/lib32/debug/.build-id/ab/cdef.debug"
    )
    assert debug_path(_facts()) is None
    assert strip_arguments("/usr/bin/x") == []
    assert strip_arguments("/usr/lib/x.so") == ["-g", "--strip-unneeded"]


def test_read_elf_of_a_real_program(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("needs the host's gcc")
    source = tmp_path / "m.c"
    source.write_text("int main(void) { return 0; }\n")
    program = tmp_path / "m"
    subprocess.run(
        ["gcc", "-Wl,--build-id=sha1", "-Wl,-rpath,/opt/x", "-o", str(program), str(source)],
        check=True,
    )
    facts = read_elf(program)
    assert facts is not None
    assert facts.isa == "x86_64" and not facts.elf32
    assert "libc.so.6" in facts.needed and facts.runpath == ("/opt/x",)
    assert facts.interpreter is not None and facts.interpreter.endswith("ld-linux-x86-64.so.2")
    assert facts.build_id is not None and len(facts.build_id) == 40
    assert read_elf(source) is None


def test_analyser_splits_debug_info_but_never_through_a_symlink(tmp_path: Path) -> None:
    if shutil.which("gcc") is None or shutil.which("objcopy") is None:
        pytest.skip("needs the host's gcc and binutils")
    install = tmp_path / "install"
    (install / "usr/bin").mkdir(parents=True)
    source = tmp_path / "m.c"
    source.write_text("int main(void) { return 0; }\n")
    for name in ("a", "b"):
        subprocess.run(
            ["gcc", "-g", f"-DNAME_{name}", "-Wl,--build-id=sha1", "-o",
             str(install / "usr/bin" / name), str(source)],
            check=True,
        )  # fmt: skip
    rules = [CollectionRule("*", "m"), CollectionRule("/usr/lib/debug", "m-dbginfo")]
    logged: list[str] = []
    analyser = Analyser(install, rules, AnalysisOptions(), lambda _p: False, [], logged.append)
    buckets = analyser.run(list(walk_install_root(install)))
    debug = [p.path for p in buckets["m-dbginfo"].paths]
    assert len(debug) == 1 and debug[0].startswith("/usr/lib/debug/.build-id/")
    assert buckets["m"].provides == {"binary(a)", "binary(b)"}
    assert "soname(libc.so.6(x86_64))" in buckets["m"].depends

    # A build that made /usr/lib/debug a symlink out of the install root gets no debug files.
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(install / "usr/lib")
    (install / "usr/lib").mkdir()
    (install / "usr/lib/debug").symlink_to(outside)
    for name in ("a", "b"):
        subprocess.run(
            ["gcc", "-g", "-Wl,--build-id=sha1", "-o", str(install / "usr/bin" / name),
             str(source)],
            check=True,
        )  # fmt: skip
    logged.clear()
    Analyser(install, rules, AnalysisOptions(), lambda _p: False, [], logged.append).run(
        [p for p in walk_install_root(install) if p.path.startswith("/usr/bin")]
    )
    assert list(outside.iterdir()) == []
    assert any("not written: debug is a symlink" in line for line in logged)


def test_compressman_replaces_pages_and_repoints_links(tmp_path: Path) -> None:
    assert compressible("/usr/share/man/man1/ls.1") and compressible("/usr/share/info/a.info")
    assert not compressible("/usr/share/man/index.html") and not compressible("/usr/bin/x1")
    install = tmp_path / "install"
    man = install / "usr/share/man/man1"
    man.mkdir(parents=True)
    (man / "foo.1").write_text(".TH FOO 1\n" * 50)
    os.utime(man / "foo.1", ns=(10**18, 10**18))
    (man / "bar.1").symlink_to("foo.1")
    rules = [CollectionRule("*", "m")]
    logged: list[str] = []
    options = AnalysisOptions(compressman=True)
    buckets = Analyser(install, rules, options, lambda _p: False, [], logged.append).run(
        list(walk_install_root(install))
    )
    assert [p.path for p in buckets["m"].paths] == [
        "/usr/share/man/man1/bar.1.zst", "/usr/share/man/man1/foo.1.zst",
    ]  # fmt: skip
    assert sorted(os.listdir(man)) == ["bar.1.zst", "foo.1.zst"]
    assert os.readlink(man / "bar.1.zst") == "foo.1.zst"
    assert zstandard.ZstdDecompressor().decompress((man / "foo.1.zst").read_bytes()) == (
        b".TH FOO 1\n" * 50
    )
    assert (man / "foo.1.zst").stat().st_mtime_ns == 10**18
    assert "^ /usr/share/man/man1/foo.1 » /usr/share/man/man1/foo.1.zst" in logged

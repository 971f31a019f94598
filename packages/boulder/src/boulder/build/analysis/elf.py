"""ELF files: soname provides, DT_NEEDED and interpreter depends, debug info split (§3.9.3)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicTag
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection
from elftools.elf.segments import InterpSegment

_MAGIC = b"\x7fELF"


@dataclass(frozen=True, slots=True)
class ElfFacts:
    """What analysis needs from one ELF file."""

    isa: str
    elf32: bool
    needed: tuple[str, ...] = ()
    soname: str | None = None
    runpath: tuple[str, ...] = ()
    interpreter: str | None = None
    build_id: str | None = None


def _isa(machine: str) -> str:
    return machine.removeprefix("EM_").lower()


def _text(tag: DynamicTag, name: str) -> str:
    # pyelftools sets a tag's string value as an attribute named after the tag.
    return str(tag.__dict__[name])


def read_elf(host: Path) -> ElfFacts | None:
    """The facts of an ELF file, or None when it is not one (or too broken to read)."""
    try:
        with open(host, "rb") as stream:
            if stream.read(4) != _MAGIC:
                return None
            stream.seek(0)
            elf = ELFFile(stream)
            needed: list[str] = []
            runpath: list[str] = []
            soname = interpreter = build_id = None
            for segment in elf.iter_segments():
                if isinstance(segment, InterpSegment):
                    interpreter = segment.get_interp_name()
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    for tag in section.iter_tags():
                        kind = tag.entry.d_tag
                        if kind == "DT_NEEDED":
                            needed.append(_text(tag, "needed"))
                        elif kind == "DT_SONAME":
                            soname = _text(tag, "soname")
                        elif kind == "DT_RUNPATH":
                            runpath.extend(_text(tag, "runpath").split(":"))
                        elif kind == "DT_RPATH":
                            runpath.extend(_text(tag, "rpath").split(":"))
                elif isinstance(section, NoteSection):
                    for note in section.iter_notes():
                        if note["n_type"] == "NT_GNU_BUILD_ID":
                            build_id = str(note["n_desc"])
            return ElfFacts(
                isa=_isa(str(elf["e_machine"])),
                elf32=elf.elfclass == 32,
                needed=tuple(needed),
                soname=soname,
                runpath=tuple(p for p in runpath if p),
                interpreter=interpreter,
                build_id=build_id,
            )
    except (ELFError, OSError, ValueError, KeyError):
        return None


def _without_lib_prefix(path: PurePosixPath) -> str:
    # `/usr/lib/foo/libx.so` names itself `foo/libx.so`: the first three components go.
    return "/".join(path.parts[3:])


def _search_dirs(path: PurePosixPath, runpath: Sequence[str]) -> list[PurePosixPath]:
    own = path.parent
    dirs = [own]
    for entry in runpath:
        text = entry.replace("$ORIGIN", str(own)).replace("${ORIGIN}", str(own))
        if text.startswith("/"):
            dirs.append(PurePosixPath(os.path.normpath(text)))
    return dirs


def elf_relations(
    path: str, facts: ElfFacts, exists: Callable[[str], bool]
) -> tuple[list[str], list[str]]:
    """Provides and depends of the ELF file at container path `path`.

    `exists(p)` says whether container path `p` exists in the install root or the build root:
    a needed library found there (beside the file or on its RUNPATH) is named by its path.
    """
    here = PurePosixPath(path)
    provides: list[str] = []
    depends: list[str] = []
    for name in facts.needed:
        found = next(
            (d / name for d in _search_dirs(here, facts.runpath) if exists(str(d / name))), None
        )
        label = name if found is None else _without_lib_prefix(found)
        depends.append(f"soname({label}({facts.isa}))")
    if ".so" in here.name:
        soname = facts.soname or here.name
        if len(here.parts) == 4:
            provides.append(f"soname({soname}({facts.isa}))")
        else:
            provides.append(f"soname({_without_lib_prefix(here.parent)}/{soname}({facts.isa}))")
        if soname.startswith("ld-") and path.startswith("/usr/lib"):
            dirs = (
                ("/usr/lib/", "/lib32/", "/lib/")
                if facts.elf32
                else ("/usr/lib64/", "/lib64/", "/lib/")
            )
            for candidate in (*(d + soname for d in dirs), path):
                provides.append(f"interpreter({candidate}({facts.isa}))")
                provides.append(f"soname({candidate}({facts.isa}))")
    if facts.interpreter:
        depends.append(f"interpreter({facts.interpreter}({facts.isa}))")
    return provides, depends


def debug_path(facts: ElfFacts) -> str | None:
    """Where the split debug info of this file goes, by build id."""
    if not facts.build_id or len(facts.build_id) < 3:
        return None
    lib = "lib32" if facts.elf32 else "lib"
    return f"/usr/{lib}/debug/.build-id/{facts.build_id[:2]}/{facts.build_id[2:]}.debug"


def strip_arguments(path: str) -> list[str]:
    """Programs lose every symbol; libraries and objects keep what linking against them needs."""
    if PurePosixPath(path).parent.name in ("bin", "sbin"):
        return []
    return ["-g", "--strip-unneeded"]


@dataclass(frozen=True, slots=True)
class BinUtils:
    objcopy: str = "objcopy"
    strip: str = "strip"


def run_tool(argv: Sequence[str], log: Callable[[str], None]) -> bool:
    """Run a binutils command; failures are reported, never fatal (as upstream)."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except OSError as err:
        log(f"{argv[0]}: {err}")
        return False
    if done.returncode != 0:
        log(f"{' '.join(argv)} failed: {done.stderr.strip()}")
        return False
    return True


def split_and_strip(
    host: Path,
    debug_host: Path | None,
    *,
    debug: bool,
    strip: bool,
    path: str,
    tools: BinUtils,
    log: Callable[[str], None],
) -> bool:
    """Copy the debug info out (linked back by `.gnu_debuglink`), then strip. True if the
    debug file was written now."""
    written = False
    if debug and debug_host is not None:
        # A hard-linked copy of the same file shares the build id: one debug file serves both.
        if not debug_host.exists():
            debug_host.parent.mkdir(parents=True, exist_ok=True)
            written = run_tool(
                [tools.objcopy, "--only-keep-debug", str(host), str(debug_host)], log
            )
        if debug_host.exists():
            run_tool([tools.objcopy, f"--add-gnu-debuglink={debug_host}", str(host)], log)
    if strip:
        run_tool([tools.strip, *strip_arguments(path), str(host)], log)
    return written

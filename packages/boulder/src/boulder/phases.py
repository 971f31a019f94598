"""Build scripts for every phase of every target and PGO stage of a recipe (spec §2.3–§2.5), pure.

Every script is produced up front, so an unknown macro or tuning group is reported before any
build work starts. Errors carry the recipe line of the offending macro reference.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

from boulder.errors import ScriptError, TuningError, UnknownMacroError
from boulder.macros.load import MacroSet
from boulder.macros.tuning import Tuning, TuningFailure, TuningRequest
from boulder.phase import Phase
from boulder.recipe.load import LoadedRecipe, Loc
from boulder.recipe.model import GitUpstream, Recipe
from boulder.recipe.targets import NoTargetsError, Stage, build_targets, stages
from boulder.script import Action, Breakpoint, Command, ExpansionError, Scope

GUEST_RECIPE = PurePosixPath("/mason/recipe")
GUEST_BUILD = PurePosixPath("/mason/build")
GUEST_SOURCES = PurePosixPath("/mason/sourcedir")
GUEST_INSTALL = PurePosixPath("/mason/install")


NORMAL_PHASES = (Phase.PREPARE, Phase.SETUP, Phase.BUILD, Phase.INSTALL, Phase.CHECK)
WORKLOAD_PHASES = (Phase.PREPARE, Phase.SETUP, Phase.BUILD, Phase.WORKLOAD)


@dataclass(frozen=True, slots=True)
class BuildContext:
    """Facts about the build that are not in the recipe."""

    jobs: int
    source_date_epoch: int
    compiler_cache: bool = False
    host: str = "x86_64"


@dataclass(frozen=True, slots=True)
class PhaseScript:
    """A phase's script: each text command runs as its own bash script (preamble included),
    breakpoints sit between them."""

    target: str
    stage: Stage
    phase: Phase
    commands: tuple[Command, ...]
    dependencies: frozenset[str]
    text_line: int | None = None
    """Recipe line holding the first line of the phase text (None: generated text)."""
    preamble: str = ""
    """The expanded script base and environment every command starts with."""

    @property
    def chunks(self) -> tuple[str, ...]:
        return tuple(c for c in self.commands if isinstance(c, str))

    @property
    def breakpoints(self) -> tuple[Breakpoint, ...]:
        return tuple(c for c in self.commands if isinstance(c, Breakpoint))

    def recipe_line(self, point: Breakpoint) -> int | None:
        """The recipe line of a breakpoint, as `Breakpoint at line <L>` reports it."""
        return None if self.text_line is None else self.text_line + point.line

    @property
    def text(self) -> str:
        """All commands, breakpoints shown as comments (what `recipe show` prints)."""
        parts: list[str] = []
        for command in self.commands:
            if isinstance(command, Breakpoint):
                kind = "exit" if command.exit else "continue"
                line = self.recipe_line(command)
                parts.append(f"# breakpoint ({kind}) at recipe line {line}\n")
            else:
                parts.append(command)
        return "\n".join(parts)


def phases_for(stage: Stage) -> tuple[Phase, ...]:
    return WORKLOAD_PHASES if stage in (Stage.ONE, Stage.TWO) else NORMAL_PHASES


def buildroot(target: str) -> PurePosixPath:
    return GUEST_BUILD / target


def workdir(recipe: Recipe, target: str) -> PurePosixPath:
    """The first git or unpacked upstream's directory under the buildroot, else the buildroot."""
    root = buildroot(target)
    for upstream in recipe.upstreams:
        if isinstance(upstream, GitUpstream) or upstream.unpack:
            return root / upstream.directory
    return root


def _escape(text: str) -> str:
    # Upstream names are never macro-expanded: a `%2B` in a file name stays literal.
    return text.replace("%", "%%")


def prepare_script(recipe: Recipe) -> str:
    """Unpack every plain upstream that asks for it and copy every git clone (cwd: buildroot)."""
    lines: list[str] = []
    for upstream in recipe.upstreams:
        target = _escape(upstream.directory)
        source = _escape(upstream.file_name)
        if isinstance(upstream, GitUpstream):
            lines.append(f"mkdir -p {target}")
            lines.append(f'cp -Ra --no-preserve=ownership "%(sourcedir)/{source}/." "{target}"')
        elif upstream.unpack:
            lines.append(f"mkdir -p {target}")
            lines.append(
                f'bsdtar-static xf "%(sourcedir)/{source}" -C "{target}" '
                f"--strip-components={upstream.stripdirs} --no-same-owner "
                '|| { echo "Failed to extract archive"; exit 1; }'
            )
    return "".join(f"{line}\n" for line in lines)


_LLVM_TOOLS = {
    "c": "clang", "cxx": "clang++", "objc": "clang", "objcxx": "clang++", "cpp": "clang-cpp",
    "objcpp": "clang -E -", "objcxxcpp": "clang++ -E", "d": "ldc2", "ar": "llvm-ar",
    "objcopy": "llvm-objcopy", "nm": "llvm-nm", "ranlib": "llvm-ranlib", "strip": "llvm-strip",
}  # fmt: skip
_GNU_TOOLS = {
    "c": "gcc", "cxx": "g++", "objc": "gcc", "objcxx": "g++", "cpp": "gcc -E", "objcpp": "gcc -E",
    "objcxxcpp": "g++ -E", "d": "ldc2", "ar": "gcc-ar", "objcopy": "objcopy", "nm": "gcc-nm",
    "ranlib": "gcc-ranlib", "strip": "strip",
}  # fmt: skip
_CACHES = {
    "compiler_go_cache": "/mason/gocache",
    "compiler_go_mod_cache": "/mason/gomodcache",
    "compiler_cargo_cache": "/mason/cargocache",
    "compiler_zig_cache": "/mason/zigcache",
    "rustc_wrapper": "/usr/bin/sccache",
}
_FLAG_BUILTINS = {
    "cflags": "c", "cxxflags": "cxx", "fflags": "f", "ldflags": "ld", "dflags": "d",
    "rustflags": "rust", "valaflags": "vala", "goflags": "go",
}  # fmt: skip
_PGO_GROUPS = {Stage.ONE: ("pgostage1",), Stage.TWO: ("pgostage2",), Stage.USE: ("pgouse",)}


def builtins(
    recipe: Recipe,
    context: BuildContext,
    target: str,
    stage: Stage,
    phase: Phase,
    flags: Mapping[str, str],
) -> dict[str, str]:
    """The `%(_id)` values of one script, as script text."""
    root = buildroot(target)
    tools = _LLVM_TOOLS if recipe.toolchain == "llvm" else _GNU_TOOLS
    values = {
        "name": recipe.name,
        "version": recipe.version,
        "release": str(recipe.release),
        "jobs": str(context.jobs),
        "pkgdir": str(GUEST_RECIPE / "pkg"),
        "sourcedir": str(GUEST_SOURCES),
        "installroot": str(GUEST_INSTALL),
        "buildroot": str(root),
        "workdir": str(root if phase is Phase.PREPARE else workdir(recipe, target)),
        "compiler_cache": "/mason/ccache",
        "scompiler_cache": "/mason/sccache",
        "sourcedateepoch": str(context.source_date_epoch),
        "compiler_path": (
            "/usr/lib/ccache/bin:/usr/bin:/bin" if context.compiler_cache else "/usr/bin:/bin"
        ),
        "compiler_ld": (
            "ld.mold" if recipe.mold else "ld.lld" if recipe.toolchain == "llvm" else "ld.bfd"
        ),
        "pgo_stage": stage.value,
        "pgo_dir": f"{root}-pgo",
    }
    values.update({k: v if context.compiler_cache else "" for k, v in _CACHES.items()})
    values.update({f"compiler_{k}": v for k, v in tools.items()})
    # Builtins are expanded when used: plain values are escaped (a work directory may be named
    # `foo%2B1.tar.gz`), flags are not, since they may refer to %(jobs) or %(pgo_dir).
    literal = {name: _escape(value) for name, value in values.items()}
    literal.update({name: flags[kind] for name, kind in _FLAG_BUILTINS.items()})
    return literal


@dataclass(frozen=True, slots=True)
class _Tables:
    actions: dict[str, Action]
    definitions: dict[str, str]
    tuning: Tuning


@lru_cache(maxsize=64)
def _tables(macros: MacroSet, target: str) -> _Tables:
    # Merged once per macro set and target: later files replace same-named entries.
    base, arch = macros.arch_file("base"), macros.arch_file(target)
    actions: dict[str, Action] = {}
    definitions: dict[str, str] = {}
    for file in (base, arch, *macros.actions):
        actions.update(file.actions)
        definitions.update(file.definitions)
    return _Tables(actions, definitions, Tuning.from_files(base, arch, macros.actions))


def _tuning_flags(loaded: LoadedRecipe, tables: _Tables, stage: Stage) -> dict[str, str]:
    recipe = loaded.recipe
    items = [TuningRequest(t.group, t.enable, t.option) for t in recipe.tuning]
    extra = [TuningRequest(g) for g in _PGO_GROUPS.get(stage, ())]
    if stage is Stage.USE and recipe.samplepgo:
        extra.append(TuningRequest("pgosample"))
    try:
        compiled = tables.tuning.compile(items, extra, recipe.toolchain)
    except TuningFailure as err:
        index = next((i for i, t in enumerate(recipe.tuning) if t.group == err.group), None)
        path: Loc = ("tuning",) if index is None else ("tuning", index)
        raise loaded.error(err.message, path, TuningError) from err
    flags: dict[str, str] = {kind: value for kind, value in compiled.items()}
    if recipe.mold:
        flags["c"] += " -fuse-ld=mold"
        flags["cxx"] += " -fuse-ld=mold"
        flags["rust"] += " -Clink-arg=-fuse-ld=mold"
    return flags


def _phase_source(recipe: Recipe, target: str, key: str) -> tuple[str | None, Loc]:
    """A phase's (or `environment`'s) text and where it is written: its profile, else top level."""
    profile = recipe.profile_for(target)
    if profile is not None:
        value = getattr(profile, key)
        if value is not None:
            index = next(i for i, (_, p) in enumerate(recipe.profiles) if p is profile)
            return value, ("profiles", index, recipe.profiles[index][0], key)
    return getattr(recipe, key), (key,)


def _phase_text(recipe: Recipe, target: str, stage: Stage, phase: Phase) -> tuple[str, Loc | None]:
    if phase is Phase.PREPARE:
        return prepare_script(recipe), None
    text, loc = _phase_source(recipe, target, phase.value)
    text = text or ""
    if phase is Phase.WORKLOAD and text and recipe.toolchain == "llvm":
        if stage is Stage.ONE:
            text += "%llvm_merge_s1"
        elif stage is Stage.TWO:
            text += "%llvm_merge_s2"
    return text, loc


def _fail(
    loaded: LoadedRecipe, err: ExpansionError, loc: Loc | None, what: str, target: str,
    offset: int = 0,
) -> ScriptError | UnknownMacroError:  # fmt: skip
    """The error at recipe line (start of the text at `loc`) + (line in that text) + `offset`.

    `loc` is None for generated text (the prepare script, the script preamble): no recipe line.
    """
    start = None if loc is None else loaded.source.text_start(loc)
    line = None if start is None else start + err.line + offset
    cls = UnknownMacroError if err.unknown else ScriptError
    key = f"{what} ({target})"
    return cls(err.message, file=loaded.path, line=line, key=key)


def _scope(
    loaded: LoadedRecipe,
    macros: MacroSet,
    context: BuildContext,
    target: str,
    stage: Stage,
    phase: Phase,
) -> Scope:
    tables = _tables(macros, target)
    flags = _tuning_flags(loaded, tables, stage)
    values = builtins(loaded.recipe, context, target, stage, phase, flags)
    return Scope(tables.actions, tables.definitions, values)


def _shell_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def shell_macros(
    loaded: LoadedRecipe,
    macros: MacroSet,
    context: BuildContext,
    target: str,
    stage: Stage,
    phase: Phase,
) -> str:
    """Every action as a shell function `a_<name>` and every definition as a variable
    `d_<name>`, expanded for one phase: what a breakpoint shell offers (spec §2.7)."""
    scope = _scope(loaded, macros, context, target, stage, phase)
    lines: list[str] = []
    for name in sorted(scope.actions):
        try:
            body = scope.expand_text(f"%{name}")
        except ExpansionError:
            # An action that cannot expand in this phase is simply not offered.
            continue
        function = f"a_{_shell_name(name)}"
        lines.append(f"{function}() {{\n:\n{body}\n}}\nexport -f {function}")
    for name in sorted(scope.definitions):
        try:
            value = scope.expand_text(f"%({name})")
        except ExpansionError:
            continue
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        variable = f"d_{_shell_name(name)}"
        lines.append(f'{variable}="{quoted}"; export {variable}')
    return "".join(f"{line}\n" for line in lines)


def phase_script(
    loaded: LoadedRecipe,
    macros: MacroSet,
    context: BuildContext,
    target: str,
    stage: Stage,
    phase: Phase,
) -> PhaseScript | None:
    """The script of one phase, or None when the recipe has nothing for it."""
    recipe = loaded.recipe
    text, loc = _phase_text(recipe, target, stage, phase)
    if not text:
        return None
    scope = _scope(loaded, macros, context, target, stage, phase)
    environment, env_loc = _phase_source(recipe, target, "environment")
    # `(null)` means "no environment" (also in a profile, where it hides the top-level one).
    if phase is Phase.PREPARE or not environment or environment == "(null)":
        environment = ""
    try:
        prefix = scope.expand_text(f"%scriptBase\n{environment}\n")
    except ExpansionError as err:
        if err.line == 0:
            raise _fail(loaded, err, None, "scriptBase", target) from err
        raise _fail(loaded, err, env_loc, "environment", target, -1) from err
    try:
        body = scope.expand(text)
    except ExpansionError as err:
        raise _fail(loaded, err, loc, phase.value, target) from err
    commands = tuple(
        f"{prefix}\n{command}" if isinstance(command, str) else command for command in body.commands
    )
    text_line = None if loc is None else loaded.source.text_start(loc)
    return PhaseScript(target, stage, phase, commands, body.dependencies, text_line, prefix)


def all_scripts(
    loaded: LoadedRecipe, macros: MacroSet, context: BuildContext
) -> Iterator[PhaseScript]:
    """Every script of every target and stage, in build order."""
    try:
        targets = build_targets(loaded.recipe, context.host)
    except NoTargetsError as err:
        raise loaded.error(str(err), ("architectures",)) from err
    for target in targets:
        for stage in stages(loaded.recipe, target):
            for phase in phases_for(stage):
                script = phase_script(loaded, macros, context, target, stage, phase)
                if script is not None:
                    yield script

"""Which targets a recipe builds, and the PGO stages of each (spec §1.5, §3.6), pure."""

from __future__ import annotations

from enum import Enum

from boulder.recipe.model import Recipe


class NoTargetsError(Exception):
    """`architectures` names nothing this host can build."""


class Stage(Enum):
    """A PGO stage; a recipe without a workload runs a single `NONE` stage."""

    NONE = "NONE"
    ONE = "ONE"
    TWO = "TWO"
    USE = "USE"


def emul32_target(host: str) -> str:
    return f"emul32/{host}"


def build_targets(recipe: Recipe, host: str = "x86_64") -> tuple[str, ...]:
    """Targets in build order (32-bit first)."""
    emul = emul32_target(host)
    if not recipe.architectures:
        return (emul, host) if recipe.emul32 else (host,)
    wanted = set(recipe.architectures)
    targets = []
    if wanted & {emul, "emul32"}:
        targets.append(emul)
    if wanted & {host, "native"}:
        targets.append(host)
    if not targets:
        raise NoTargetsError("no supported build targets for recipe")
    return tuple(targets)


def workload(recipe: Recipe, target: str) -> str | None:
    """The workload deciding PGO: a profile that applies is read alone, without fallback."""
    profile = recipe.profile_for(target)
    text = profile.workload if profile is not None else recipe.workload
    return text or None


def stages(recipe: Recipe, target: str) -> tuple[Stage, ...]:
    if workload(recipe, target) is None:
        return (Stage.NONE,)
    if recipe.toolchain == "llvm" and recipe.cspgo:
        return (Stage.ONE, Stage.TWO, Stage.USE)
    return (Stage.ONE, Stage.USE)

"""Reading a recipe tree into queue tasks, with boulder's own recipe loading and macros."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from boulder.build.roots import root_packages
from boulder.compiled import compile_recipe
from boulder.errors import BoulderError
from boulder.macros.load import bundled_data_dir, load_macros
from boulder.phases import BuildContext
from boulder.recipe.load import load_recipe
from stone import FileType, StoneError, StoneReader
from summit.queue import Task, normalise

RECIPE_NAME = "stone.yaml"


@dataclass(frozen=True, slots=True)
class Scan:
    tasks: tuple[Task, ...]
    errors: tuple[str, ...]


def recipe_paths(root: Path) -> list[Path]:
    """Every `stone.yaml` below `root`, in path order (hidden directories such as .git skipped)."""
    found: list[Path] = []
    for parent, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if RECIPE_NAME in files:
            found.append(Path(parent, RECIPE_NAME))
    return found


def build_dependencies(path: Path, arch: str) -> tuple[str, str, int, tuple[str, ...]]:
    """Name, version, release and the build dependencies boulder would put in the root beyond
    its base set: builddeps and checkdeps (also of profiles) and the actions' dependencies."""
    loaded = load_recipe(path)
    macros = load_macros(bundled_data_dir().resolve())
    compiled = compile_recipe(loaded, macros, BuildContext(jobs=1, source_date_epoch=0, host=arch))
    recipe = loaded.recipe
    wanted = root_packages(recipe, compiled.dependencies, base=())
    return recipe.name, recipe.version, recipe.release, normalise(wanted)


def manifest_providers(directory: Path, arch: str) -> frozenset[str] | None:
    """Providers recorded in the committed binary manifest: each package's provides and its
    `name(...)`. None when there is no manifest."""
    manifest = directory / f"manifest.{arch}.bin"
    if not manifest.is_file():
        return None
    with StoneReader(manifest) as reader:
        reader.expect(FileType.BUILD_MANIFEST)
        metas = reader.metas()
    found: set[str] = set()
    for meta in metas:
        found.add(f"name({meta.name})")
        found.update(str(p) for p in meta.provides)
    return frozenset(found)


def scan(root: Path, arch: str) -> Scan:
    """Tasks for every recipe under `root`; a recipe that cannot be read becomes one error line
    and the others go on."""
    tasks: list[Task] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for file in recipe_paths(root):
        relative = file.parent.relative_to(root).as_posix()
        try:
            name, version, release, deps = build_dependencies(file, arch)
            provides = manifest_providers(file.parent, arch)
        except BoulderError as err:
            errors.append(str(err))
            continue
        except (StoneError, OSError) as err:
            errors.append(f"{file.parent}/manifest.{arch}.bin: {err}")
            continue
        if name in seen:
            errors.append(f"{file}: recipe {name} is already defined by {seen[name]}")
            continue
        seen[name] = relative
        tasks.append(Task(name, version, release, relative, deps, provides))
    return Scan(tuple(tasks), tuple(errors))

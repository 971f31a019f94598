"""Reading `stone.yaml` (YAML 1.2, ruamel round-trip) into a Recipe plus a map of source lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_core import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from boulder.errors import RecipeError
from boulder.recipe.model import Recipe, validate_recipe, validation_message
from boulder.yamlshape import ShapeError
from moss_core._lazy import lazy_import

# The KDL reader loads for the recipes that have a control.kdl.
if TYPE_CHECKING:
    from boulder.recipe import control
else:
    control = lazy_import("boulder.recipe.control")

Loc = tuple[str | int, ...]


def render_key(path: Loc) -> str:
    """`profiles[0].emul32.build`-style text for a document path."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else step
    return text


@dataclass(frozen=True, slots=True)
class SourceMap:
    """Answers "which line is this?" for paths into the recipe document (1-based lines)."""

    document: Any

    def locate(self, path: Loc) -> tuple[int | None, Loc]:
        """The line of the deepest node of `path` that exists, and the path to that node."""
        node = self.document
        line: int | None = None
        found: list[str | int] = []
        for step in path:
            if isinstance(node, CommentedMap):
                if step in node:
                    line = node.lc.key(step)[0] + 1
                elif isinstance(step, int) and len(node) == 1 and step in (0, 1):
                    # Ordered maps are validated as (key, value) pairs: 0 is the key, 1 its value.
                    if step == 0:
                        break
                    step = next(iter(node))
                else:
                    break
                found.append(step)
                node = node[step]
            elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
                line = node.lc.item(step)[0] + 1
                found.append(step)
                node = node[step]
            else:
                break
        return line, tuple(found)

    def line(self, path: Loc) -> int | None:
        return self.locate(path)[0]

    def text_start(self, path: Loc) -> int | None:
        """The line holding the first line of a scalar's text (after `|` or `>` if a block)."""
        line, found = self.locate(path)
        if line is None or found != path:
            return line
        parent = self.document
        for step in path[:-1]:
            parent = parent[step]
        value = parent[path[-1]]
        if isinstance(value, LiteralScalarString | FoldedScalarString):
            return line + 1
        if isinstance(parent, CommentedMap):
            return int(parent.lc.value(path[-1])[0]) + 1
        return line


@dataclass(frozen=True, slots=True)
class LoadedRecipe:
    """A validated recipe, the file it came from and where each key sits in it."""

    path: Path
    recipe: Recipe
    source: SourceMap

    def error(self, message: str, path: Loc, cls: type[RecipeError] = RecipeError) -> RecipeError:
        line, found = self.source.locate(path)
        return cls(message, file=self.path, line=line, key=render_key(found or path) or None)


def recipe_file(path: Path) -> Path:
    """A recipe argument is a file or a directory holding `stone.yaml`."""
    file = path / "stone.yaml" if path.is_dir() else path
    if not file.is_file():
        raise RecipeError(f'recipe file does not exist: "{path}"')
    return file


def read_document(file: Path) -> Any:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(file.read_text(encoding="utf-8"))
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = None if mark is None else mark.line + 1
        raise RecipeError(f"invalid YAML: {err.problem or err}", file=file, line=line) from err
    except (OSError, UnicodeDecodeError, YAMLError) as err:
        raise RecipeError(f"cannot read recipe: {err}", file=file) from err
    except ValueError as err:
        # ruamel.yaml takes scalars such as `._` for floats and then fails to convert them.
        raise RecipeError(f"invalid YAML value: {err}", file=file) from err


def load_recipe(path: Path) -> LoadedRecipe:
    """Read, apply `control.kdl` if present, validate. Errors name file, line and key."""
    file = recipe_file(path)
    document = read_document(file)
    if not isinstance(document, CommentedMap):
        raise RecipeError("expected a map of recipe keys", file=file, line=1)
    source = SourceMap(document)
    control_file = file.parent / "control.kdl"
    if control_file.is_file():
        control.apply_control(document, control_file)
    try:
        recipe = validate_recipe(document)
    except ShapeError as err:
        line, found = source.locate(err.path)
        raise RecipeError(
            err.message, file=file, line=line, key=render_key(found or err.path)
        ) from err
    except ValidationError as err:
        first = err.errors()[0]
        line, found = source.locate(first["loc"])
        key = render_key(found) if found else render_key(first["loc"][:1])
        raise RecipeError(validation_message(first), file=file, line=line, key=key) from err
    loaded = LoadedRecipe(file, recipe, source)
    if not recipe.version[:1].isascii() or not recipe.version[:1].isdigit():
        raise loaded.error(
            f"version must start with an integer (found 'version: {recipe.version}')", ("version",)
        )
    if recipe.release <= 0:
        raise loaded.error(f"release must be > 0 (found 'release: {recipe.release}')", ("release",))
    return loaded

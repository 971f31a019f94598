"""Reading macro files from a data directory (`<dir>/macros/{arch,actions}/**/*.yaml`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from boulder.errors import MacroError
from boulder.macros.model import MacroFile, parse_macro_file
from boulder.yamlshape import ShapeError
from moss_core._lazy import lazy_import

# Writing the cache (ctypes, shutil) is for the first run after a change only.
if TYPE_CHECKING:
    from moss_core import fs
else:
    fs = lazy_import("moss_core.fs")


@dataclass(frozen=True, slots=True, eq=False)
class MacroSet:
    """All macro files of a data directory: arch files by identifier, action files by path.

    Compared by identity, so it can key caches of per-target tables.
    """

    arch: dict[str, MacroFile]
    actions: tuple[MacroFile, ...]

    def arch_file(self, identifier: str) -> MacroFile:
        found = self.arch.get(identifier)
        if found is None:
            raise MacroError(f"no macros for architecture {identifier}")
        return found


def bundled_data_dir() -> Path:
    """The data directory shipped inside the package."""
    return Path(str(files("boulder"))) / "data"


def _parsed(path: Path, cache: Path | None) -> Any:
    """The YAML document in `path`. Parsing YAML is most of a `recipe check`, so documents are
    kept in `cache` as JSON, by the sha256 of their text: an edited file is parsed again."""
    text = path.read_text(encoding="utf-8")
    kept = None
    if cache is not None:
        kept = cache / f"{hashlib.sha256(text.encode()).hexdigest()}.json"
        with contextlib.suppress(OSError, ValueError):
            return json.loads(kept.read_text(encoding="utf-8"))
    document = YAML(typ="safe", pure=True).load(text)
    if kept is not None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            encoded = json.dumps(document)
            # Kept only what JSON gives back the same (not integer keys, say).
            if json.loads(encoded) == document:
                fs.write_atomically(kept, encoded)
    return document


def _load_file(path: Path, identifier: str, cache: Path | None) -> MacroFile:
    try:
        document = _parsed(path, cache)
    except (OSError, YAMLError) as err:
        raise MacroError(f"cannot read macro file: {err}", file=path) from err
    try:
        return parse_macro_file(identifier, document)
    except ShapeError as err:
        key = ".".join(str(p) for p in err.path) or None
        raise MacroError(err.message, file=path, key=key) from err


def _identifiers(root: Path) -> list[tuple[str, Path]]:
    if not root.is_dir():
        return []
    found = [(p.relative_to(root).with_suffix("").as_posix(), p) for p in root.rglob("*.yaml")]
    return sorted(found)


@lru_cache(maxsize=8)
def load_macros(data_dir: Path, cache: Path | None = None) -> MacroSet:
    """Load every macro file under `data_dir` (kept: macro files do not change during a run);
    `cache` is where parsed files may be kept between runs."""
    macros = data_dir / "macros"
    arch = {ident: _load_file(path, ident, cache) for ident, path in _identifiers(macros / "arch")}
    if "base" not in arch:
        raise MacroError("no base macros (macros/arch/base.yaml)", file=data_dir)
    actions = tuple(
        _load_file(path, ident, cache) for ident, path in _identifiers(macros / "actions")
    )
    return MacroSet(arch, actions)

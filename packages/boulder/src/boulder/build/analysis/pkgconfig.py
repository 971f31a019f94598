"""pkg-config files provide `pkgconfig(<stem>)` and depend on what they require (§3.9.4)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
_FIELD = re.compile(r"^\s*(Requires(?:\.private)?)\s*:(.*)$")
_DEFINITION = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*=(.*)$")


def is_pkgconfig(path: str) -> bool:
    here = PurePosixPath(path)
    return "pkgconfig" in here.parts[:-1] and here.suffix == ".pc"


def is_32bit(path: str) -> bool:
    return "lib32" in PurePosixPath(path).parts


def pkgconfig_provides(path: str) -> list[str]:
    kind = "pkgconfig32" if is_32bit(path) else "pkgconfig"
    return [f"{kind}({PurePosixPath(path).stem})"]


def required_names(text: str) -> list[str]:
    """The package names of `Requires` and `Requires.private`, variables expanded: the first
    word of each comma-separated item, version constraints dropped."""
    variables: dict[str, str] = {}
    names: list[str] = []

    def expand(value: str) -> str:
        return _VARIABLE.sub(lambda m: variables.get(m.group(1), ""), value)

    for line in text.splitlines():
        field = _FIELD.match(line)
        if field is not None:
            words = expand(field.group(2)).replace(",", " ").split()
            skip = False
            for word in words:
                if skip:
                    skip = False
                elif word in ("=", "<", ">", "<=", ">=", "!="):
                    skip = True
                elif word[0].isalnum() or word[0] in "_-":
                    names.append(word)
            continue
        definition = _DEFINITION.match(line)
        if definition is not None:
            variables[definition.group(1)] = expand(definition.group(2).strip())
    return names


def pkgconfig_depends(
    path: str, host: Path, search: Sequence[Path], lib32_dirs: Sequence[Path]
) -> list[str]:
    """`pkgconfig(d)` for each requirement (pkg-config looks in `search`). 32-bit files name
    `pkgconfig32(d)` only when `d.pc` is beside them or in one of `lib32_dirs`."""
    names = _host_requires(host, search)
    if names is None:
        names = required_names(host.read_text(encoding="utf-8", errors="replace"))
    if not is_32bit(path):
        return [f"pkgconfig({name})" for name in dict.fromkeys(names)]
    depends: list[str] = []
    for name in dict.fromkeys(names):
        beside = host.parent / f"{name}.pc"
        in32 = any((d / f"{name}.pc").exists() for d in lib32_dirs)
        kind = "pkgconfig32" if beside.exists() or in32 else "pkgconfig"
        depends.append(f"{kind}({name})")
    return depends


def _host_requires(host: Path, search: Sequence[Path]) -> list[str] | None:
    """The first words of `pkg-config --print-requires(-private)`, or None if pkg-config is
    missing or cannot resolve the requirements (then the file itself is read)."""
    env = {
        "LC_ALL": "C",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PKG_CONFIG_PATH": ":".join(str(p) for p in search),
    }
    argv = [
        "pkg-config", "--print-requires", "--print-requires-private", "--silence-errors",
        str(host),
    ]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return [line.split()[0] for line in done.stdout.splitlines() if line.split()]

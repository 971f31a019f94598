"""`control.kdl` beside a recipe: prepend/append/override edits applied before validation.

Only the KDL that control files need is understood: nodes with a name (bare or quoted), string or
number arguments, `{}` children, `;`/newline separators, `//`, `/* */` and `/-` comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from boulder.errors import RecipeError

STRING_KEYS = ("setup", "build", "install", "check", "workload", "environment")
LIST_KEYS = ("builddeps", "checkdeps", "rundeps", "rundeps-exclude", "conflicts")
MODES = ("prepend", "append", "override")


@dataclass(slots=True)
class Node:
    name: str
    args: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)


_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\ufeff]+|\\\s*\n)
      |(?P<comment>//[^\n]*|/\*.*?\*/)
      |(?P<slashdash>/-)
      |(?P<newline>\n|;)
      |(?P<open>\{)|(?P<close>\})
      |(?P<raw>r(?P<hashes>\#*)"(?P<rawbody>.*?)"(?P=hashes))
      |(?P<string>"(?:[^"\\]|\\.)*")
      |(?P<bare>[^\s{};"=\\/()\[\]<>,]+)""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "/": "/", "b": "\b", "f": "\f"}


def _unescape(body: str) -> str:
    out: list[str] = []
    chars = iter(body)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


def _tokens(text: str, path: Path) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            line = text.count("\n", 0, pos) + 1
            raise RecipeError(
                f"cannot parse KDL near {text[pos : pos + 10]!r}", file=path, line=line
            )
        kind = match.lastgroup or ""
        if kind in ("raw", "hashes", "rawbody"):
            tokens.append(("value", match.group("rawbody")))
        elif kind == "string":
            tokens.append(("value", _unescape(match.group("string")[1:-1])))
        elif kind == "bare":
            tokens.append(("value", match.group("bare")))
        elif kind not in ("ws", "comment"):
            tokens.append((kind, match.group(0)))
        pos = match.end()
    return tokens


def parse_kdl(text: str, path: Path) -> list[Node]:
    """Parse the KDL subset into nodes."""
    tokens = _tokens(text, path)
    stack: list[list[Node]] = [[]]
    current: Node | None = None
    skip_next = False
    for kind, value in tokens:
        if kind == "slashdash":
            skip_next = True
        elif kind == "value":
            if current is None:
                current = Node(value)
                if not skip_next:
                    stack[-1].append(current)
                skip_next = False
            elif skip_next:
                skip_next = False
            else:
                current.args.append(value)
        elif kind == "newline":
            current = None
        elif kind == "open":
            if current is None:
                raise RecipeError("children block without a node", file=path)
            target = current.children if not skip_next else []
            skip_next = False
            stack.append(target)
            current = None
        elif kind == "close":
            if len(stack) == 1:
                raise RecipeError("unbalanced '}'", file=path)
            stack.pop()
            current = None
    if len(stack) != 1:
        raise RecipeError("unclosed '{'", file=path)
    return stack[0]


def _merge_text(mode: str, old: Any, new: str) -> str:
    if mode == "override" or not isinstance(old, str):
        return new
    return f"{new}\n{old}" if mode == "prepend" else f"{old}\n{new}"


def _merge_list(mode: str, old: Any, new: list[str]) -> list[str]:
    previous = [old] if isinstance(old, str) else list(old or [])
    if mode == "override":
        return new
    return [*new, *previous] if mode == "prepend" else [*previous, *new]


def _apply_block(target: CommentedMap, mode: str, nodes: list[Node], path: Path) -> None:
    for node in nodes:
        if node.name in STRING_KEYS:
            target[node.name] = _merge_text(mode, target.get(node.name), "".join(node.args))
        elif node.name in LIST_KEYS:
            target[node.name] = _merge_list(
                mode, target.get(node.name), [c.name for c in node.children]
            )
        elif node.name in ("profiles", "packages"):
            _apply_named(target, node.name, mode, node.children, path)


def _apply_named(target: CommentedMap, key: str, mode: str, nodes: list[Node], path: Path) -> None:
    entries = target.get(key) or []
    by_name = {
        next(iter(item)): item for item in entries if isinstance(item, dict) and len(item) == 1
    }
    what = "profile" if key == "profiles" else "sub-package"
    for node in nodes:
        if node.name not in by_name:
            raise RecipeError(
                f"{what} {node.name} in {mode} block does not exist in recipe", file=path
            )
        item = by_name[node.name]
        body = item[node.name]
        if not isinstance(body, CommentedMap):
            body = CommentedMap(body or {})
            item[node.name] = body
        _apply_block(body, mode, node.children, path)


def apply_control(document: CommentedMap, path: Path) -> None:
    """Apply `prepend`, then `append`, then `override` blocks of `path` to the document."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(f"cannot read control file: {err}", file=path) from err
    nodes = parse_kdl(text, path)
    for mode in MODES:
        for node in nodes:
            if node.name == mode:
                _apply_block(document, mode, node.children, path)

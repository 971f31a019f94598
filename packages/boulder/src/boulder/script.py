"""The script language of phases, actions and definitions (pure).

`%%` is a literal `%`, `%(id)` a definition, `%(_id)` a builtin, `%id` an action (the longest run
of identifier characters), `%break_continue`/`%break_exit` a breakpoint; everything else is text.
There are no syntax errors: `date +%Y` refers to the action `Y`.

Definitions bind late: a reference is expanded against the scope it is evaluated in, so a
definition written in terms of `%(libsuffix)` follows whatever the target's arch file set.
Builtin values are scripts too (the flag builtins hold `%(jobs)`); literal ones are escaped by
whoever builds the scope.

Macros are untrusted input (a recipe's own macro files), so expansion is bounded: at most
`MAX_DEPTH` nested macros, and at most `MAX_EXPANSION` bytes produced by one scope, counted
before each join, so that ten macros each ten copies of the one before end in an error and not
in a MemoryError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

MAX_DEPTH = 128
# What all the scripts of one phase may expand to; the real ones are kilobytes.
MAX_EXPANSION = 32 << 20

_TOKEN = re.compile(r"%(?:(%)|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+))|\n")


class Kind(Enum):
    TEXT = "text"
    NEWLINE = "newline"
    ACTION = "action"
    DEFINITION = "definition"
    BUILTIN = "builtin"
    BREAK_CONTINUE = "break_continue"
    BREAK_EXIT = "break_exit"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    value: str
    line: int


@dataclass(frozen=True, slots=True)
class Action:
    """A named command; `dependencies` are packages the build root needs when it is used."""

    command: str
    description: str = ""
    example: str | None = None
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """`%break_continue` / `%break_exit` at 0-based `line` of the phase text."""

    line: int
    exit: bool


Command = str | Breakpoint
"""Script text to run, or a breakpoint between two runs."""


@dataclass(frozen=True, slots=True)
class Expansion:
    """A phase body as commands: non-empty texts and the breakpoints between them."""

    commands: tuple[Command, ...]
    dependencies: frozenset[str]


def reference(kind: Kind, name: str) -> str:
    """How a recipe writes a reference to the macro."""
    if kind is Kind.ACTION:
        return f"%{name}"
    return f"%(_{name})" if kind is Kind.BUILTIN else f"%({name})"


class ExpansionError(Exception):
    """Expansion failed at 0-based `line` of the text given to the top-level call."""

    def __init__(self, message: str, *, unknown: bool, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.unknown = unknown
        self.line = line


@lru_cache(maxsize=8192)
def tokenize(text: str) -> tuple[Token, ...]:
    """Split `text` into tokens; cached because macro bodies recur in every script."""
    tokens: list[Token] = []
    line = 0
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() > pos:
            tokens.append(Token(Kind.TEXT, text[pos : match.start()], line))
        percent, definition, action = match.groups()
        if percent is not None:
            tokens.append(Token(Kind.TEXT, "%", line))
        elif definition is not None:
            if definition.startswith("_"):
                tokens.append(Token(Kind.BUILTIN, definition[1:], line))
            else:
                tokens.append(Token(Kind.DEFINITION, definition, line))
        elif action is not None:
            if action == "break_continue":
                tokens.append(Token(Kind.BREAK_CONTINUE, action, line))
            elif action == "break_exit":
                tokens.append(Token(Kind.BREAK_EXIT, action, line))
            else:
                tokens.append(Token(Kind.ACTION, action, line))
        else:
            tokens.append(Token(Kind.NEWLINE, "\n", line))
            line += 1
        pos = match.end()
    if pos < len(text):
        tokens.append(Token(Kind.TEXT, text[pos:], line))
    return tuple(tokens)


@dataclass(slots=True)
class Scope:
    """Everything a script can refer to. Expansions of macros are memoised per scope."""

    actions: Mapping[str, Action]
    definitions: Mapping[str, str]
    builtins: Mapping[str, str]
    _memo: dict[tuple[Kind, str], tuple[str, frozenset[str]]] = field(default_factory=dict)
    _produced: int = 0

    def expand(self, text: str) -> Expansion:
        """Expand a phase body (top level: builtins are not allowed here)."""
        commands: list[Command] = []
        current: list[str] = []
        deps: set[str] = set()

        def flush() -> None:
            output = "".join(current)
            current.clear()
            if output:
                commands.append(output)

        size = 0
        for token in tokenize(text):
            kind = token.kind
            if kind is Kind.TEXT or kind is Kind.NEWLINE:
                current.append(token.value)
            elif kind is Kind.BREAK_CONTINUE or kind is Kind.BREAK_EXIT:
                flush()
                commands.append(Breakpoint(token.line, kind is Kind.BREAK_EXIT))
            elif kind is Kind.BUILTIN:
                raise ExpansionError("builtins not allowed", unknown=False, line=token.line)
            else:
                try:
                    value, inner = self._macro(kind, token.value, 1)
                    size = self._grow(size, value, reference(kind, token.value))
                except ExpansionError as err:
                    err.line = token.line
                    if not err.unknown:
                        # Say which macro of the phase text it was, as the recipe writes it.
                        err.message = f"{reference(kind, token.value)}: {err.message}"
                        err.args = (err.message,)
                    raise
                current.append(value)
                deps.update(inner)
        flush()
        self._produced += size
        return Expansion(tuple(commands), frozenset(deps))

    def expand_text(self, text: str) -> str:
        """Expand text as one string, breakpoints dropped (a script prefix, a package name)."""
        return "".join(c for c in self.expand(text).commands if isinstance(c, str))

    def _macro(self, kind: Kind, name: str, depth: int) -> tuple[str, frozenset[str]]:
        key = (kind, name)
        cached = self._memo.get(key)
        if cached is not None:
            return cached
        # `depth` counts the frames below this one, the phase text being the first.
        if depth >= MAX_DEPTH:
            raise ExpansionError(
                f"script call stack too deep (more than {MAX_DEPTH} macros, at "
                f"{reference(kind, name)})",
                unknown=False,
            )
        own: tuple[str, ...] = ()
        if kind is Kind.ACTION:
            action = self.actions.get(name)
            if action is None:
                raise ExpansionError(f"undefined action {name}", unknown=True)
            body, own = action.command, action.dependencies
        elif kind is Kind.DEFINITION:
            definition = self.definitions.get(name)
            if definition is None:
                raise ExpansionError(f"undefined definition {name}", unknown=True)
            body = definition
        else:
            builtin = self.builtins.get(name)
            if builtin is None:
                raise ExpansionError(f"undefined builtin {name}", unknown=True)
            body = builtin
        value, inner = self._nested(body, depth, reference(kind, name))
        result = (value, frozenset(inner.union(own)))
        self._memo[key] = result
        return result

    def _nested(self, body: str, depth: int, name: str) -> tuple[str, set[str]]:
        parts: list[str] = []
        deps: set[str] = set()
        size = 0
        for token in tokenize(body):
            kind = token.kind
            if kind is Kind.TEXT or kind is Kind.NEWLINE:
                parts.append(token.value)
                size = self._grow(size, token.value, name)
            elif kind is Kind.BREAK_CONTINUE or kind is Kind.BREAK_EXIT:
                # A breakpoint only means something in a phase body; inside a macro it is inert.
                continue
            else:
                value, inner = self._macro(kind, token.value, depth + 1)
                parts.append(value)
                size = self._grow(size, value, name)
                deps.update(inner)
        # Memoised, so it stays for the scope's life: it counts against the scope's bound.
        self._produced += size
        return "".join(parts), deps

    def _grow(self, size: int, part: str, name: str) -> int:
        """`size` + `part`, refused before the text is joined when the scope would then have
        produced more than `MAX_EXPANSION` bytes."""
        size += len(part)
        if self._produced + size > MAX_EXPANSION:
            raise ExpansionError(
                f"macro expansion larger than {MAX_EXPANSION} bytes (the limit, reached in {name})",
                unknown=False,
            )
        return size

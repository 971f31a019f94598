"""Compile path globs with named captures into anchored regular expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fnmatch_ext.errors import PatternError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ANY_IN_SEGMENT = "[^/]*"
_ANY = ".*"


@dataclass(frozen=True)
class Match:
    """A successful match: the matched path and the text captured by every named group."""

    path: str
    groups: dict[str, str]


class Pattern:
    """A glob anchored at both ends.

    `*` matches within one path segment, `**` across segments, `?` any single character,
    `[...]` one character of a class (`[!...]` or `[^...]` negates), and `(name:sub)` captures
    what `sub` matches under `name`. Every other character is literal.
    """

    __slots__ = ("_groups", "_prefix", "_regex", "_text")

    def __init__(self, text: str) -> None:
        regex, names, prefix = _Compiler(text).compile()
        self._text = text
        self._groups = tuple(sorted(names))
        self._prefix = prefix
        # DOTALL: a path may legally contain a newline, and `?`/`**` must match it too.
        self._regex = re.compile(regex, re.DOTALL)

    @property
    def text(self) -> str:
        """The pattern as written."""
        return self._text

    @property
    def groups(self) -> tuple[str, ...]:
        """The names of the pattern's groups, sorted."""
        return self._groups

    @property
    def prefix(self) -> str:
        """The literal text every matching path starts with (may be empty)."""
        return self._prefix

    @property
    def regex(self) -> re.Pattern[str]:
        """The compiled regular expression; it must be used with `fullmatch`."""
        return self._regex

    def match(self, path: str) -> Match | None:
        """Match the whole of `path`; return `None` when it does not match."""
        found = self._regex.fullmatch(path)
        if found is None:
            return None
        return Match(path=path, groups=found.groupdict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pattern):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return f"Pattern({self._text!r})"

    def __str__(self) -> str:
        return self._text


class _Compiler:
    """Single pass over the pattern text; `pos` always indexes the next unread character."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.out: list[str] = []
        self.names: list[str] = []
        self.prefix: list[str] = []
        self.prefix_open = True
        self.group_start: int | None = None

    def fail(self, position: int, reason: str) -> PatternError:
        return PatternError(self.text, position, reason)

    def emit(self, regex: str, literal: str | None = None) -> None:
        if literal is None:
            self.prefix_open = False
        elif self.prefix_open:
            self.prefix.append(literal)
        self.out.append(regex)

    def compile(self) -> tuple[str, list[str], str]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "*":
                if text.startswith("**", self.pos):
                    self.emit(_ANY)
                    self.pos += 2
                else:
                    self.emit(_ANY_IN_SEGMENT)
                    self.pos += 1
            elif char == "?":
                self.emit(".")
                self.pos += 1
            elif char == "[":
                self.emit(self.char_class())
            elif char == "(":
                self.open_group()
            elif char == ")":
                if self.group_start is None:
                    raise self.fail(
                        self.pos, "')' without an open group (write '[)]' for a literal)"
                    )
                self.emit(")")
                self.group_start = None
                self.pos += 1
            elif char == ":" and self.group_start is not None:
                raise self.fail(
                    self.pos, "a group holds exactly one ':' (write '[:]' for a literal)"
                )
            else:
                self.emit(re.escape(char), char)
                self.pos += 1
        if self.group_start is not None:
            raise self.fail(self.group_start, "group is not closed by ')'")
        return "".join(self.out), self.names, "".join(self.prefix)

    def open_group(self) -> None:
        start = self.pos
        if self.group_start is not None:
            raise self.fail(start, "groups cannot be nested")
        name_match = _NAME.match(self.text, start + 1)
        name_end = name_match.end() if name_match else start + 1
        if name_end >= len(self.text) or self.text[name_end] != ":":
            raise self.fail(name_end, "a group is written '(name:pattern)'")
        if name_match is None:
            raise self.fail(start + 1, "a group needs a name")
        name = name_match.group()
        if name in self.names:
            raise self.fail(start + 1, f"group name {name!r} is used twice")
        self.names.append(name)
        self.group_start = start
        self.emit(f"(?P<{name}>")
        self.pos = name_end + 1

    def char_class(self) -> str:
        text = self.text
        start = self.pos
        pos = start + 1
        negate = pos < len(text) and text[pos] in "!^"
        if negate:
            pos += 1
        items: list[str] = []
        first = True
        while True:
            if pos >= len(text):
                raise self.fail(start, "'[' is not closed by ']' (write '[[]' for a literal)")
            char = text[pos]
            # As in POSIX, a ']' right after the opening bracket is a member, not the end.
            if char == "]" and not first:
                break
            first = False
            if pos + 2 < len(text) and text[pos + 1] == "-" and text[pos + 2] != "]":
                low, high = char, text[pos + 2]
                if low > high:
                    raise self.fail(pos, f"range {low}-{high} is reversed")
                items.append(f"{re.escape(low)}-{re.escape(high)}")
                pos += 3
            else:
                items.append(re.escape(char))
                pos += 1
        self.pos = pos + 1
        return "[" + ("^" if negate else "") + "".join(items) + "]"

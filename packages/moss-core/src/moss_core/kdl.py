"""A KDL v2 reader and writer, for moss's configuration files (repositories, system model).

Understood: nodes whose names are identifiers, quoted or raw strings; arguments and `key=value`
properties that are strings, numbers (decimal, `0x`, `0o`, `0b`, with `_` separators),
`#true`, `#false`, `#null`, `#inf`, `#-inf` and `#nan`; `{}` children blocks; `;` and newline
terminators; `//`, nested `/* */` and `/-` (slashdash) comments; `\\` line continuations; the
string escapes `\\n \\r \\t \\\\ \\" \\b \\f \\s \\u{…}` and whitespace escapes; raw strings
`#"…"#` (any number of `#`); multi-line strings, quoted and raw (`\"\"\"` on a line of its own,
dedented by the whitespace before the closing `\"\"\"`); type annotations `(type)` before a node
name or a value, read and dropped (KDL leaves their meaning to the reader, and moss gives them
none). Every error names the file, line and column.

`dumps` writes the layout upstream moss produces: one node per line, four-space indentation,
bare identifiers where the text allows it, and properties after arguments.

Why a reader of our own (checked December 2026 against the official KDL v2 test suite, 336
cases, and every KDL file upstream ships): of PyPI's KDL libraries, `kdl-py` 1.2 reads KDL v1
only (`node #true` is "junk after node"); `ckdl` 1.0 reads v2 and upstream's files, but its
errors carry no position (a broken string is just "Parse error", where moss must name the
file, line and column of a mistake in a configuration file) and it gets 6 of the 336 suite
cases wrong (it refuses `/-` without a space before it and `{` in a bare identifier, accepts
an over-long `\\u{…}` escape). This reader passes all 336.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from moss_core.errors import MossError

Value = str | int | float | bool | None

_UNICODE_SPACE = frozenset(
    "\u0009\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)
# CRLF is one newline; every other member is one character.
_NEWLINE = frozenset("\r\n\u0085\u000b\u000c\u2028\u2029")
_NOT_IN_IDENTIFIER = frozenset('\\/(){};[]"#=')
_DISALLOWED = re.compile(
    "[\u0000-\u0008\u000e-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_KEYWORD_IDENTIFIERS = frozenset({"true", "false", "null", "inf", "-inf", "nan"})
_KEYWORDS: dict[str, Value] = {
    "#true": True,
    "#false": False,
    "#null": None,
    "#inf": math.inf,
    "#-inf": -math.inf,
    "#nan": math.nan,
}
_NUMBER = re.compile(
    r"[+-]?(?:0x[0-9a-fA-F][0-9a-fA-F_]*|0o[0-7][0-7_]*|0b[01][01_]*"
    r"|[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9][0-9_]*)?)"
)
# Text that a reader takes for a number, so it cannot be an identifier.
_NUMBER_START = re.compile(r"[+-]?\.?[0-9]")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "b": "\b", "f": "\f", "s": " "}
_UNICODE_ESCAPE = re.compile(r"u\{([0-9a-fA-F]{1,6})\}")
_NEWLINE_SEQUENCE = re.compile("\r\n|[\r\n\u0085\u000b\u000c\u2028\u2029]")
_WRITE_ESCAPES = {value: f"\\{key}" for key, value in _ESCAPES.items() if key != "s"}


class KdlError(MossError):
    """A KDL document could not be read; the message leads with `file:line:column`."""

    def __init__(
        self, problem: str, *, file: str | None = None, line: int | None = None, column: int = 1
    ) -> None:
        self.problem = problem
        self.file = file
        self.line = line
        self.column = column
        where = file or "<string>"
        if line is not None:
            where += f":{line}:{column}"
        super().__init__(f"{where}: {problem}")


@dataclass
class Node:
    """One KDL node. `line` and `column` say where it was read (0 when built in code)."""

    name: str
    args: list[Value] = field(default_factory=list)
    props: dict[str, Value] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


def parse(text: str, *, file: str | os.PathLike[str] | None = None) -> list[Node]:
    """The top-level nodes of a document."""
    return _Parser(text, None if file is None else os.fspath(file)).document()


def load(path: str | os.PathLike[str]) -> list[Node]:
    """Read and parse a file; unreadable or non-UTF-8 files raise `KdlError` too."""
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise KdlError(err.strerror or str(err), file=name) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise KdlError("not UTF-8 text", file=name, line=line) from None
    return parse(text, file=name)


def dumps(nodes: Iterable[Node]) -> str:
    out: list[str] = []
    for node in nodes:
        _write_node(node, "", out)
    return "".join(out)


def _write_node(node: Node, indent: str, out: list[str]) -> None:
    parts = [format_string(node.name)]
    parts += (format_value(arg) for arg in node.args)
    parts += (f"{format_string(key)}={format_value(value)}" for key, value in node.props.items())
    out.append(indent + " ".join(parts))
    if node.children:
        out.append(" {\n")
        for child in node.children:
            _write_node(child, indent + "    ", out)
        out.append(indent + "}")
    out.append("\n")


def format_value(value: Value) -> str:
    """A value as KDL text."""
    if value is None:
        return "#null"
    if isinstance(value, bool):
        return "#true" if value else "#false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "#nan"
        if math.isinf(value):
            return "#inf" if value > 0 else "#-inf"
        text = repr(value)
        # repr gives `1e+16` for large values, which KDL reads; "1.0" keeps the float a float.
        return text if any(c in text for c in ".e") else text + ".0"
    return format_string(value)


def format_string(text: str) -> str:
    """A bare identifier when KDL would read it back unchanged, a quoted string otherwise."""
    return text if _is_identifier(text) else _quote(text)


def _is_identifier(text: str) -> bool:
    return (
        text != ""
        and text not in _KEYWORD_IDENTIFIERS
        and _NUMBER_START.match(text) is None
        and all(_identifier_char(c) for c in text)
    )


def _identifier_char(char: str) -> bool:
    return (
        char not in _NOT_IN_IDENTIFIER
        and char not in _UNICODE_SPACE
        and char not in _NEWLINE
        and _DISALLOWED.match(char) is None
    )


def _quote(text: str) -> str:
    out = ['"']
    for char in text:
        escaped = _WRITE_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char in _NEWLINE or _DISALLOWED.match(char):
            out.append(f"\\u{{{ord(char):x}}}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


class _EscapeError(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _read_escape(text: str, index: int) -> tuple[str, int]:
    """The escape whose backslash is at `index`: what it stands for, and where the text goes on."""
    char = text[index + 1 : index + 2]
    if char in _ESCAPES:
        return _ESCAPES[char], index + 2
    if char and (char in _UNICODE_SPACE or char in _NEWLINE):
        end = index + 1
        while end < len(text) and (text[end] in _UNICODE_SPACE or text[end] in _NEWLINE):
            end += 1
        return "", end
    if char == "u":
        match = _UNICODE_ESCAPE.match(text, index + 1)
        if match is None:
            raise _EscapeError("malformed \\u{…} escape")
        code = int(match.group(1), 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise _EscapeError(f"\\u{{{match.group(1)}}} is not a Unicode scalar value")
        return chr(code), match.end()
    raise _EscapeError(f"unknown escape \\{char}")


def _drop_whitespace_escapes(text: str) -> str:
    """`text` with its whitespace escapes resolved and every other escape left as written."""
    out: list[str] = []
    index = 0
    while (found := text.find("\\", index)) >= 0:
        following = text[found + 1 : found + 2]
        if following and (following in _UNICODE_SPACE or following in _NEWLINE):
            out.append(text[index:found])
            index = _read_escape(text, found)[1]
        else:
            out.append(text[index : found + 2])
            index = found + 2
    out.append(text[index:])
    return "".join(out)


def _dedent(body: str) -> str | None:
    """A multi-line string's body (between the newline after its opening quotes and its closing
    quotes) without the closing line's whitespace on each line; None if the lines do not allow
    it (text on the closing line, a line not starting with that whitespace)."""
    lines = _NEWLINE_SEQUENCE.split(body)
    prefix = lines.pop()
    if any(char not in _UNICODE_SPACE for char in prefix):
        return None
    out = []
    for line in lines:
        if all(char in _UNICODE_SPACE for char in line):
            out.append("")
        elif line.startswith(prefix):
            out.append(line[len(prefix) :])
        else:
            return None
    return "\n".join(out)


class _Parser:
    def __init__(self, text: str, file: str | None) -> None:
        self.text = text
        self.file = file
        self.pos = 1 if text.startswith("\ufeff") else 0
        self._line_starts = [0]
        for match in _NEWLINE_SEQUENCE.finditer(text):
            self._line_starts.append(match.end())

    # Positions and errors

    def _where(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, pos)
        return line, pos - self._line_starts[line - 1] + 1

    def _error(self, problem: str, pos: int | None = None) -> KdlError:
        line, column = self._where(self.pos if pos is None else pos)
        return KdlError(problem, file=self.file, line=line, column=column)

    def _peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _at(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def _describe(self) -> str:
        char = self._peek()
        return "end of file" if char == "" else repr(char)

    # Structure

    def document(self) -> list[Node]:
        bad = _DISALLOWED.search(self.text, self.pos)
        if bad is not None:
            raise self._error(f"character U+{ord(bad.group()):04X} is not allowed", bad.start())
        nodes = self._nodes()
        if self.pos < len(self.text):
            raise self._error("unexpected '}' with no open children block")
        return nodes

    def _nodes(self) -> list[Node]:
        """Nodes up to the end of the text or a closing `}` (left for the caller)."""
        nodes: list[Node] = []
        while True:
            self._skip_line_space()
            if self.pos >= len(self.text) or self._peek() == "}":
                return nodes
            if self._at("/-"):
                self.pos += 2
                self._skip_line_space()
                self._node()
            else:
                nodes.append(self._node())

    def _node(self) -> Node:
        start = self.pos
        self._type_annotation()
        name = self._string("a node name")
        line, column = self._where(start)
        node = Node(name, line=line, column=column)
        has_children = False
        # Entries end at the first children block, even one commented out with `/-`.
        past_entries = False
        while True:
            spaced = self._skip_node_space()
            char = self._peek()
            if self._end_of_node():
                return node
            slashdash = self._at("/-")
            if slashdash:
                self.pos += 2
                self._skip_line_space()
                char = self._peek()
            if char == "{":
                children = self._children()
                past_entries = True
                if slashdash:
                    continue
                if has_children:
                    raise self._error("a node has at most one children block", start)
                node.children, has_children = children, True
                continue
            if past_entries:
                raise self._error("arguments and properties must come before the children block")
            if not (spaced or slashdash):
                raise self._error(f"expected a space before {self._describe()}")
            key, value = self._entry()
            if slashdash:
                continue
            if key is None:
                node.args.append(value)
            else:
                # KDL: the rightmost of duplicate properties wins.
                node.props.pop(key, None)
                node.props[key] = value

    def _end_of_node(self) -> bool:
        """Consume a node terminator if one is next; a parent's `}` ends the node too."""
        char = self._peek()
        if char == "" or char == "}":
            return True
        if char == ";":
            self.pos += 1
            return True
        if char in _NEWLINE:
            self._skip_newline()
            return True
        if self._at("//"):
            self._skip_line_comment()
            return True
        return False

    def _children(self) -> list[Node]:
        open_at = self.pos
        self.pos += 1
        children = self._nodes()
        if self._peek() != "}":
            raise self._error("children block is never closed with '}'", open_at)
        self.pos += 1
        return children

    def _entry(self) -> tuple[str | None, Value]:
        """An argument (key None) or a property."""
        if self._peek() == "(":
            # Only a value takes an annotation, and a value on its own is an argument.
            self._type_annotation()
            return None, self._value()
        start = self.pos
        char = self._peek()
        if char == '"' or (char == "#" and self._raw_string_ahead()) or self._identifier_ahead():
            text = self._string("an argument")
            after_key = self.pos
            self._skip_node_space()
            if self._peek() == "=":
                self.pos += 1
                self._skip_node_space()
                self._type_annotation()
                return text, self._value()
            self.pos = after_key
            return None, text
        if char == "=":
            raise self._error("'=' without a property name", start)
        return None, self._value()

    def _value(self) -> Value:
        char = self._peek()
        if char == '"' or (char == "#" and self._raw_string_ahead()):
            return self._string("a value")
        if char == "#":
            return self._keyword()
        if _NUMBER_START.match(self.text, self.pos):
            return self._number()
        if self._identifier_ahead():
            return self._identifier()
        raise self._error(f"expected a value, found {self._describe()}")

    def _type_annotation(self) -> None:
        """Read past a `(type)` and the space after it, if one is next."""
        if self._peek() != "(":
            return
        start = self.pos
        self.pos += 1
        self._skip_node_space()
        self._string("a type name")
        self._skip_node_space()
        if self._peek() != ")":
            raise self._error("type annotation is never closed with ')'", start)
        self.pos += 1
        self._skip_node_space()

    # Strings

    def _string(self, what: str) -> str:
        char = self._peek()
        if char == '"':
            return self._quoted()
        if char == "#" and self._raw_string_ahead():
            return self._raw()
        if self._identifier_ahead():
            return self._identifier()
        raise self._error(f"expected {what}, found {self._describe()}")

    def _identifier_ahead(self) -> bool:
        char = self._peek()
        return (
            char != "" and _identifier_char(char) and not _NUMBER_START.match(self.text, self.pos)
        )

    def _identifier(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and _identifier_char(self.text[self.pos]):
            self.pos += 1
        text = self.text[start : self.pos]
        if text in _KEYWORD_IDENTIFIERS:
            raise self._error(f"bare {text!r} is not allowed: write #{text.lstrip('-')}", start)
        return text

    def _quoted(self) -> str:
        start = self.pos
        if self._at('"""'):
            return self._multi_line(start, hashes=None)
        self.pos += 1
        out: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self._error("string is never closed", start)
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char in _NEWLINE:
                raise self._error("newline inside a string (write \\n)")
            if char == "\\":
                out.append(self._escape())
            else:
                out.append(char)
                self.pos += 1

    def _escape(self) -> str:
        start = self.pos
        try:
            value, self.pos = _read_escape(self.text, self.pos)
        except _EscapeError as err:
            raise self._error(err.problem, start) from None
        return value

    def _multi_line(self, start: int, hashes: int | None) -> str:
        """A `\"\"\"` string whose quotes are next (`hashes` of them around it: raw), from `start`.

        Its whitespace escapes are resolved first, then the lines dedented, then the other
        escapes resolved, as KDL orders it.
        """
        self.pos += 3
        if self._peek() == "" or self._peek() not in _NEWLINE:
            raise self._error('a multi-line string starts a new line after its """', start)
        self._skip_newline()
        closing = '"""' + "#" * (hashes or 0)
        text, end = self.text, self.pos
        while not text.startswith(closing, end):
            if end >= len(text):
                raise self._error("multi-line string is never closed", start)
            end += 2 if hashes is None and text[end] == "\\" else 1
        body = text[self.pos : end]
        self.pos = end + len(closing)
        value = _dedent(body if hashes is not None else _drop_whitespace_escapes(body))
        if value is None:
            raise self._error(
                "each line of a multi-line string must start with the whitespace before its"
                ' closing """, which must be alone on its line',
                start,
            )
        return value if hashes is not None else self._resolve_escapes(value, start)

    def _resolve_escapes(self, text: str, start: int) -> str:
        out: list[str] = []
        index = 0
        while (found := text.find("\\", index)) >= 0:
            out.append(text[index:found])
            try:
                value, index = _read_escape(text, found)
            except _EscapeError as err:
                raise self._error(err.problem, start) from None
            out.append(value)
        out.append(text[index:])
        return "".join(out)

    def _raw_string_ahead(self) -> bool:
        index = self.pos
        while index < len(self.text) and self.text[index] == "#":
            index += 1
        return index < len(self.text) and self.text[index] == '"'

    def _raw(self) -> str:
        start = self.pos
        hashes = 0
        while self._peek() == "#":
            hashes += 1
            self.pos += 1
        if self._at('"""'):
            return self._multi_line(start, hashes)
        self.pos += 1
        closing = '"' + "#" * hashes
        end = self.text.find(closing, self.pos)
        newline = next((i for i, c in enumerate(self.text[self.pos :]) if c in _NEWLINE), None)
        if end < 0 or (newline is not None and self.pos + newline < end):
            raise self._error("raw string is never closed on its line", start)
        body = self.text[self.pos : end]
        self.pos = end + len(closing)
        return body

    # Numbers and keywords

    def _number(self) -> int | float:
        start = self.pos
        match = _NUMBER.match(self.text, self.pos)
        if match is None or not self._delimiter_at(match.end()):
            end = start
            while end < len(self.text) and not self._delimiter_at(end):
                end += 1
            raise self._error(f"invalid number {self.text[start:end]!r}", start)
        self.pos = match.end()
        text = match.group().replace("_", "")
        sign = -1 if text.startswith("-") else 1
        digits = text.lstrip("+-")
        for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
            if digits.startswith(prefix):
                return sign * int(digits[2:], base)
        if any(c in digits for c in ".eE"):
            return float(text)
        return int(text)

    def _delimiter_at(self, index: int) -> bool:
        if index >= len(self.text):
            return True
        char = self.text[index]
        return (
            char in _UNICODE_SPACE
            or char in _NEWLINE
            or char in ";{}"
            or self.text.startswith(("//", "/*", "/-"), index)
            or char == "\\"
        )

    def _keyword(self) -> Value:
        start = self.pos
        end = self.pos + 1
        while end < len(self.text) and _identifier_char(self.text[end]):
            end += 1
        word = self.text[start:end]
        if word not in _KEYWORDS:
            raise self._error(f"unknown keyword {word!r}", start)
        self.pos = end
        return _KEYWORDS[word]

    # Whitespace and comments

    def _skip_node_space(self) -> bool:
        """Spaces, block comments and line continuations; True if any were skipped."""
        start = self.pos
        while True:
            char = self._peek()
            if char != "" and char in _UNICODE_SPACE:
                self.pos += 1
            elif self._at("/*"):
                self._skip_block_comment()
            elif char == "\\":
                self._skip_continuation()
            else:
                return self.pos > start

    def _skip_line_space(self) -> None:
        while True:
            self._skip_node_space()
            char = self._peek()
            if char != "" and char in _NEWLINE:
                self._skip_newline()
            elif self._at("//"):
                self._skip_line_comment()
            else:
                return

    def _skip_newline(self) -> None:
        self.pos += 2 if self._at("\r\n") else 1

    def _skip_line_comment(self) -> None:
        while self._peek() != "" and self._peek() not in _NEWLINE:
            self.pos += 1
        if self._peek() != "":
            self._skip_newline()

    def _skip_block_comment(self) -> None:
        start = self.pos
        depth = 0
        while True:
            if self._at("/*"):
                depth += 1
                self.pos += 2
            elif self._at("*/"):
                depth -= 1
                self.pos += 2
                if depth == 0:
                    return
            elif self.pos >= len(self.text):
                raise self._error("comment is never closed with '*/'", start)
            else:
                self.pos += 1

    def _skip_continuation(self) -> None:
        start = self.pos
        self.pos += 1
        while True:
            char = self._peek()
            if char != "" and char in _UNICODE_SPACE:
                self.pos += 1
            elif self._at("/*"):
                self._skip_block_comment()
            else:
                break
        if self._at("//"):
            self._skip_line_comment()
        elif self._peek() != "" and self._peek() in _NEWLINE:
            self._skip_newline()
        elif self._peek() != "":
            raise self._error("'\\' outside a string must end its line", start)

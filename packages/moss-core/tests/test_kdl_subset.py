"""The KDL reader and writer: examples, generated round trips, and malformed input."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_core import kdl
from moss_core.errors import MossError
from moss_core.kdl import KdlError, Node

REPO_FILE = """\
local {
    description "Local repo"
    uri "file:///srv/repo/stone.index"
    priority 10
    active #true
}
"""


def typed(value: kdl.Value) -> tuple[str, object]:
    """Values compared with their type: `1 == 1.0 == True` in Python, not in KDL."""
    if isinstance(value, float) and math.isnan(value):
        return ("nan", None)
    return (type(value).__name__, value)


def shape(nodes: list[Node]) -> list[object]:
    return [
        (
            node.name,
            [typed(arg) for arg in node.args],
            sorted((key, typed(value)) for key, value in node.props.items()),
            shape(node.children),
        )
        for node in nodes
    ]


def test_repository_file_reads_and_writes_back_identically() -> None:
    nodes = kdl.parse(REPO_FILE)
    assert nodes == [
        Node(
            "local",
            children=[
                Node("description", ["Local repo"]),
                Node("uri", ["file:///srv/repo/stone.index"]),
                Node("priority", [10]),
                Node("active", [True]),
            ],
        )
    ]
    assert kdl.dumps(nodes) == REPO_FILE


def test_positions_are_recorded() -> None:
    nodes = kdl.parse("\n  first\nsecond {\n\tchild\n}\n")
    assert [(n.name, n.line, n.column) for n in nodes] == [("first", 2, 3), ("second", 3, 1)]
    assert (nodes[1].children[0].line, nodes[1].children[0].column) == (4, 2)


def test_system_model_shape() -> None:
    text = """\
// the system model of this machine
disable_warning #true
repositories {
    volatile { uri "https://cdn.example.org/volatile/x86_64/stone.index"; priority 0 }
}
packages {
    foo
    "soname(libz.so.1(x86_64))" { why "zlib for the tools" }
    /- bar
}
"""
    model = kdl.parse(text)
    assert [node.name for node in model] == ["disable_warning", "repositories", "packages"]
    assert model[1].children[0].children[1] == Node("priority", [0])
    packages = model[2].children
    assert [p.name for p in packages] == ["foo", "soname(libz.so.1(x86_64))"]
    assert packages[1].children == [Node("why", ["zlib for the tools"])]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("n 42", 42),
        ("n -7", -7),
        ("n +7", 7),
        ("n 1_000", 1000),
        ("n 0xff", 255),
        ("n -0x1_0", -16),
        ("n 0o17", 15),
        ("n 0b1010", 10),
        ("n 1.5", 1.5),
        ("n 1e3", 1000.0),
        ("n 2.5E-1", 0.25),
        ("n #inf", math.inf),
        ("n #-inf", -math.inf),
        ("n #true", True),
        ("n #false", False),
        ("n #null", None),
        ('n "a\\tb\\n\\"q\\"\\\\"', 'a\tb\n"q"\\'),
        ('n "\\u{1F600}\\s\\b\\f\\r"', "\U0001f600 \b\f\r"),
        ('n "one \\\n     two"', "one two"),
        ('n #"C:\\path "quoted""#', 'C:\\path "quoted"'),
        ('n ##"a "# b"##', 'a "# b'),
        ("n bare-word.with:colons", "bare-word.with:colons"),
        ("n -dash", "-dash"),
        ("n .dot", ".dot"),
        ("n -", "-"),
        ("n ünïcode", "ünïcode"),
    ],
)
def test_values(text: str, value: kdl.Value) -> None:
    assert typed(kdl.parse(text)[0].args[0]) == typed(value)


def test_nan() -> None:
    (nan,) = kdl.parse("n #nan")[0].args
    assert isinstance(nan, float) and math.isnan(nan)


def test_properties_rightmost_wins_and_spacing_around_equals() -> None:
    (node,) = kdl.parse('n a=1 "b c" = 2 a=3 x')
    assert node.props == {"b c": 2, "a": 3}
    assert node.args == ["x"]


def test_separators_comments_and_continuations() -> None:
    text = (
        "\ufeffa 1; b 2 // trailing\n"
        "/* block /* nested */ still */ c \\\n"
        "   3 \\ // continued\n"
        "   4\r\n"
        "/- d { e }\n"
        "f /- 5 6 /- key=7 /-{ g } { h; i }\n"
        "j{k}; l\n"
    )
    nodes = kdl.parse(text)
    assert shape(nodes) == shape(
        [
            Node("a", [1]),
            Node("b", [2]),
            Node("c", [3, 4]),
            Node("f", [6], children=[Node("h"), Node("i")]),
            Node("j", children=[Node("k")]),
            Node("l"),
        ]
    )


def test_type_annotations_are_read_and_dropped() -> None:
    (node,) = kdl.parse('(entry)repo (u64)10 ("type name") two priority=(u8)3 {\n (x) child\n}')
    assert (node.name, node.args, node.props) == ("repo", [10, "two"], {"priority": 3})
    assert [child.name for child in node.children] == ["child"]


def test_multi_line_strings_are_dedented_by_their_closing_line() -> None:
    text = '''notes """
        first
          indented \\t "quoted"
    \u0020
        joined \\
          on one line
        """ #"""
      raw \\n
      """#
'''
    (node,) = kdl.parse(text)
    assert node.args == ['first\n  indented \t "quoted"\n\njoined on one line', "raw \\n"]
    (empty,) = kdl.parse('e """\n  """')
    assert empty.args == [""]


def test_writer_quotes_what_would_not_read_back_bare() -> None:
    nodes = [
        Node("plain", ["word", "two words", "true", "123", "-1x", "", "a=b", 'q"', "é"]),
        Node("x", [1.0, 1e300, -0.5, math.inf, None, False], {"key with space": 1}),
        Node("ctl", ["\u0085\u2028\x01\x7f"]),
    ]
    text = kdl.dumps(nodes)
    assert text.splitlines() == [
        'plain word "two words" "true" "123" "-1x" "" "a=b" "q\\"" é',
        'x 1.0 1e+300 -0.5 #inf #null #false "key with space"=1',
        'ctl "\\u{85}\\u{2028}\\u{1}\\u{7f}"',
    ]
    assert shape(kdl.parse(text)) == shape(nodes)


# Generated documents

_text = st.text(
    st.characters(codec="utf-8"),
    max_size=12,
)
_value = st.one_of(
    _text,
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)
_leaf = st.builds(
    Node,
    _text,
    st.lists(_value, max_size=4),
    st.dictionaries(_text, _value, max_size=3),
)


def _with_children(children: st.SearchStrategy[list[Node]]) -> st.SearchStrategy[Node]:
    return st.builds(
        Node,
        _text,
        st.lists(_value, max_size=3),
        st.dictionaries(_text, _value, max_size=2),
        children,
    )


_document = st.lists(
    st.recursive(_leaf, lambda inner: _with_children(st.lists(inner, max_size=3)), max_leaves=12),
    max_size=5,
)


@settings(max_examples=300)
@given(_document)
def test_round_trip_of_generated_documents(nodes: list[Node]) -> None:
    assert shape(kdl.parse(kdl.dumps(nodes))) == shape(nodes)


Draw = Callable[[st.SearchStrategy[Any]], Any]


def _noisy(nodes: list[Node], draw: Draw, depth: int = 0) -> str:
    """The same document written another way: the separators, comments, raw and multi-line
    strings, number forms and type annotations the writer never uses."""
    space = st.sampled_from([" ", "\t", " /* c */ ", " \\\n  ", "\u3000"])
    terminator = st.sampled_from(["\n", ";", " // note\n", "\r\n", "\u2028"])
    out = []
    for node in nodes:
        out.append(draw(st.sampled_from(["", "\n", "/* lead */", "/- dropped\n"])))
        parts = [_annotation(draw) + _noisy_string(node.name, draw)]
        parts += (_annotation(draw) + _noisy_value(value, draw) for value in node.args)
        parts += (
            f"{_noisy_string(key, draw)}{draw(st.sampled_from(['=', ' = ']))}"
            f"{_annotation(draw)}{_noisy_value(value, draw)}"
            for key, value in node.props.items()
        )
        out.append("".join(part + draw(space) for part in parts).rstrip(" \t"))
        if node.children:
            out.append("{" + _noisy(node.children, draw, depth + 1) + "}")
        out.append(draw(terminator))
    return "".join(out)


def _annotation(draw: Draw) -> str:
    # Read and dropped: the value is the same with or without one.
    return str(draw(st.sampled_from(["", "", "(t)", '( "a type" ) ', '(#"raw"#)', "(u8) "])))


def _multi_line(text: str, indent: str) -> str | None:
    """`text` as a multi-line string indented by `indent`, where that spelling can hold it."""
    lines = text.split("\n")
    if (
        '"""' in text
        or "\\" in text
        or any(c in text for c in "\r\x0b\x0c\x85\u2028\u2029")
        or any(kdl._DISALLOWED.match(c) for c in text)
        # A line of only whitespace reads back empty.
        or any(line and not line.strip("".join(kdl._UNICODE_SPACE)) for line in lines)
    ):
        return None
    body = "\n".join(indent + line if line else "" for line in lines)
    return f'"""\n{body}\n{indent}"""'


def _noisy_string(text: str, draw: Draw) -> str:
    multi_line = _multi_line(text, draw(st.sampled_from(["", "  ", "\t", "\u3000 "])))
    if multi_line is not None and draw(st.booleans()):
        return multi_line
    # A raw body may not start with a quote (`#"""#` is no string in KDL v2).
    rawable = (
        not text.startswith('"')
        and '"#' not in text
        and not any(c in text for c in "\r\n\x0b\x0c\x85\u2028\u2029")
        and all(kdl._DISALLOWED.match(c) is None for c in text)
    )
    if rawable and draw(st.booleans()):
        return f'#"{text}"#'
    return kdl.format_string(text)


def _noisy_value(value: kdl.Value, draw: Draw) -> str:
    if isinstance(value, str):
        return _noisy_string(value, draw)
    if isinstance(value, int) and not isinstance(value, bool) and draw(st.booleans()):
        sign: str = "-" if value < 0 else draw(st.sampled_from(["", "+"]))
        spelling: str = draw(st.sampled_from(["0x{:_x}", "0o{:o}", "0b{:b}", "{:_}"]))
        return sign + spelling.format(abs(value))
    return kdl.format_value(value)


@settings(max_examples=300)
@given(st.data(), _document)
def test_round_trip_through_other_spellings(data: st.DataObject, nodes: list[Node]) -> None:
    text = _noisy(nodes, data.draw)
    assert shape(kdl.parse(text)) == shape(nodes), text


# Malformed input


@pytest.mark.parametrize(
    ("text", "line", "column", "problem"),
    [
        ('a "open', 1, 3, "string is never closed"),
        ("a {\n  b\n", 1, 3, "children block is never closed"),
        ("a\n}", 2, 1, "unexpected '}'"),
        ("a (u8 1", 1, 3, "type annotation is never closed with ')'"),
        ("() a", 1, 2, "expected a type name, found ')'"),
        ("a (t)k=1", 1, 7, "expected a space before '='"),
        ("a true", 1, 3, "bare 'true' is not allowed: write #true"),
        ("a -inf", 1, 3, "bare '-inf' is not allowed: write #inf"),
        ("a 12abc", 1, 3, "invalid number '12abc'"),
        ("a 0x", 1, 3, "invalid number '0x'"),
        ("a .5", 1, 3, "invalid number '.5'"),
        ("a 1.", 1, 3, "invalid number '1.'"),
        ("a key=", 1, 7, "expected a value, found end of file"),
        ("a =1", 1, 3, "'=' without a property name"),
        ('a "\\q"', 1, 4, "unknown escape \\q"),
        ('a "\\u{D800}"', 1, 4, "is not a Unicode scalar value"),
        ('a "\\u{110000}"', 1, 4, "is not a Unicode scalar value"),
        ('a "\\u{}"', 1, 4, "malformed \\u{…} escape"),
        ("a /* open", 1, 3, "comment is never closed"),
        ("a #yes", 1, 3, "unknown keyword '#yes'"),
        ('a """x"""', 1, 3, 'a multi-line string starts a new line after its """'),
        ('a """\n  x\n  y"""', 1, 3, "each line of a multi-line string must start with the"),
        ('a """\n  x\n y\n  """', 1, 3, "each line of a multi-line string must start with the"),
        ('a """\n  x\\\n  """', 1, 3, "each line of a multi-line string must start with the"),
        ('a #"""\n x\n """', 1, 3, "multi-line string is never closed"),
        ('a """\n  \\q\n  """', 1, 3, "unknown escape \\q"),
        ('a #"raw\n"#', 1, 3, "raw string is never closed on its line"),
        ('a "x\ny"', 1, 5, "newline inside a string"),
        ('a "x"1', 1, 6, "expected a space before '1'"),
        ("a {} 1", 1, 6, "arguments and properties must come before the children block"),
        ("a {} {}", 1, 1, "a node has at most one children block"),
        ("a \\ b", 1, 3, "'\\' outside a string must end its line"),
        ("a\n  b \u200e", 2, 5, "character U+200E is not allowed"),
        ("a \x00", 1, 3, "character U+0000 is not allowed"),
        ("=", 1, 1, "expected a node name, found '='"),
        ("123", 1, 1, "expected a node name, found '1'"),
        ('a\r\nb\r\n  c "', 3, 5, "string is never closed"),
    ],
)
def test_malformed(text: str, line: int, column: int, problem: str) -> None:
    with pytest.raises(KdlError) as caught:
        kdl.parse(text, file="conf.kdl")
    err = caught.value
    assert (err.line, err.column) == (line, column)
    assert problem in err.problem
    assert str(err).startswith(f"conf.kdl:{line}:{column}: ")
    assert isinstance(err, MossError)


def test_load_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.kdl"
    good.write_text(REPO_FILE)
    assert kdl.load(good)[0].name == "local"
    bad = tmp_path / "bad.kdl"
    bad.write_bytes(b"a 1\nb \xff\n")
    with pytest.raises(KdlError, match=rf"^{bad}:2:1: not UTF-8 text$"):
        kdl.load(bad)
    with pytest.raises(KdlError, match=rf"^{tmp_path / 'missing.kdl'}: No such file"):
        kdl.load(tmp_path / "missing.kdl")

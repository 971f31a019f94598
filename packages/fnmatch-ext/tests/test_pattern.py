"""Behaviour of `Pattern`: the spec's vectors (§2.2) and the rules that differ from upstream."""

from __future__ import annotations

import pytest

from fnmatch_ext import FnmatchError, Match, Pattern, PatternError

MODULES = "/usr/lib/modules/(version:*)/*"
FONTS_DEEP = "/usr/share/fonts/**/*.ttf"
FONTS = "/usr/share/fonts/**"
LIBS = "/usr/lib*/lib*.so*"
INFO = "/usr/share/info/(item:*.info*)"
UNITS = "/usr/lib*/systemd/system/(name:*.service)"

# (pattern, path, expected captures or None for "no match"); spec §2.2 rows 1-19 and 21.
VECTORS = [
    (MODULES, "/usr/lib/modules/6.2.6/modules.symbols", {"version": "6.2.6"}),
    (MODULES, "/usr/lib/modules/6.6.67-51.kvm/kernel/net/netfilter/nft_hash.ko.zst", None),
    (MODULES, "/usr/lib/modules/6.6.7-267.current/kernel", {"version": "6.6.7-267.current"}),
    (MODULES, "/usr/lib/modules/6.6.7", None),
    (
        "/usr/lib/modules/(version:*)/kernel",
        "/usr/lib/modules/6.6.7-267.current/kernel",
        {"version": "6.6.7-267.current"},
    ),
    (FONTS_DEEP, "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", {}),
    (FONTS_DEEP, "/usr/share/fonts/a.ttf", None),
    (FONTS, "/usr/share/fonts", None),
    (FONTS, "/usr/share/fonts/x/y/z.otf", {}),
    (LIBS, "/usr/lib/libc.so.6", {}),
    (LIBS, "/usr/lib/gconv/libGB.so", None),
    (INFO, "/usr/share/info/gcc.info.gz", {"item": "gcc.info.gz"}),
    (INFO, "/usr/share/info/dir", None),
    (UNITS, "/usr/lib/systemd/system/sshd.service", {"name": "sshd.service"}),
    (UNITS, "/usr/lib/systemd/system/multi-user.target.wants/sshd.service", None),
    ("/usr/bin/?ash", "/usr/bin/bash", {}),
    ("/usr/bin/?ash", "/usr/bin/ash", None),
    ("/usr/?in", "/usr//in", {}),
    ("/usr/share/doc/*.txt", "/usr/share/doc/readmeXtxt", None),
    ("/usr/share/man/man[18]/*", "/usr/share/man/man1/ls.1.gz", {}),
    ("/usr/share/man/man[18]/*", "/usr/share/man/man3/printf.3.gz", None),
    ("/usr/lib/(a:*)/(b:*)", "/usr/lib/x/y", {"a": "x", "b": "y"}),
]


@pytest.mark.parametrize(("text", "path", "captures"), VECTORS)
def test_spec_vectors(text: str, path: str, captures: dict[str, str] | None) -> None:
    found = Pattern(text).match(path)
    if captures is None:
        assert found is None
    else:
        assert found == Match(path=path, groups=captures)


def test_text_before_a_group_stays_before_it() -> None:
    # Spec row 20 documents upstream moving "foo-" after the group; the intent is the reverse.
    pattern = Pattern("/usr/lib/foo-(v:*)")
    found = pattern.match("/usr/lib/foo-1.2")
    assert found is not None
    assert found.groups == {"v": "1.2"}
    assert pattern.match("/usr/lib/1.2foo-") is None


@pytest.mark.parametrize(
    ("text", "path", "other"),
    [
        ("/usr/lib/libstdc++.so*", "/usr/lib/libstdc++.so.6", "/usr/lib/libstdcc.so.6"),
        ("/usr/share/foo{1}", "/usr/share/foo{1}", "/usr/share/foo"),
        ("/a|b", "/a|b", "/a"),
        ("/x^y$", "/x^y$", "/xy"),
        ("/back\\slash", "/back\\slash", "/backslash"),
        ("/dot.txt", "/dot.txt", "/dotXtxt"),
        ("/usr/share/ünïcode/*", "/usr/share/ünïcode/x", "/usr/share/unicode/x"),
    ],
)
def test_other_characters_are_literal(text: str, path: str, other: str) -> None:
    pattern = Pattern(text)
    assert pattern.match(path) is not None
    assert pattern.match(other) is None


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        ("/[*]", "/*", True),
        ("/[*]", "/a", False),
        ("/[?]", "/?", True),
        ("/[(]x[)]", "/(x)", True),
        ("/[:]", "/:", True),
        ("/[]]", "/]", True),
        ("/[!a]", "/b", True),
        ("/[!a]", "/a", False),
        ("/[^a]", "/a", False),
        ("/[a-c]", "/b", True),
        ("/[a-c]", "/d", False),
        ("/[a-]", "/-", True),
        ("/[\\]", "/\\", True),
        ("/a:b", "/a:b", True),
        ("/(v:[0-9]*)", "/7x", True),
    ],
)
def test_classes_and_literal_metacharacters(text: str, path: str, expected: bool) -> None:
    assert (Pattern(text).match(path) is not None) is expected


def test_double_star_inside_group_captures_across_segments() -> None:
    found = Pattern("/usr/share/(rest:**)").match("/usr/share/a/b/c")
    assert found is not None
    assert found.groups == {"rest": "a/b/c"}


def test_empty_group_body_captures_empty_text() -> None:
    found = Pattern("/x(v:)y").match("/xy")
    assert found is not None
    assert found.groups == {"v": ""}


def test_trailing_newline_does_not_sneak_past_the_anchor() -> None:
    assert Pattern("/usr/bin").match("/usr/bin\n") is None
    assert Pattern("/usr/*").match("/usr/a\nb") is not None


def test_groups_are_listed_sorted() -> None:
    assert Pattern("/(z:*)/(a:*)/(m:*)").groups == ("a", "m", "z")
    assert Pattern("/usr/*").groups == ()


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        ("/usr/lib/modules/(version:*)/*", "/usr/lib/modules/"),
        ("/usr/lib*/x", "/usr/lib"),
        ("/usr/share/man/man[18]/*", "/usr/share/man/man"),
        ("*.so", ""),
        ("/plain/path", "/plain/path"),
    ],
)
def test_prefix_is_the_leading_literal_text(text: str, prefix: str) -> None:
    assert Pattern(text).prefix == prefix


def test_identity_is_the_source_text() -> None:
    assert Pattern("/a/*") == Pattern("/a/*")
    assert Pattern("/a/*") != Pattern("/a/**")
    assert len({Pattern("/a/*"), Pattern("/a/*")}) == 1
    assert str(Pattern("/a/*")) == "/a/*"
    assert repr(Pattern("/a/*")) == "Pattern('/a/*')"


def test_regex_of_spec_row_6() -> None:
    assert Pattern(FONTS_DEEP).regex.pattern == r"/usr/share/fonts/.*/[^/]*\.ttf"


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("/usr/(v*)/x", 7, "(name:pattern)"),
        ("/usr/(a:b:c)/x", 9, "exactly one ':'"),
        ("/usr/(v:*", 5, "not closed"),
        ("/usr/(:*)/x", 6, "needs a name"),
        ("/usr/(a:*)/(a:*)", 12, "used twice"),
        ("/usr/(1a:*)", 6, "(name:pattern)"),
        ("/usr/(a:(b:*))", 8, "nested"),
        ("/usr/x)", 6, "without an open group"),
        ("/usr/[ab", 5, "not closed"),
        ("/usr/[z-a]", 6, "reversed"),
        ("(", 1, "(name:pattern)"),
    ],
)
def test_malformed_patterns_name_pattern_and_position(
    text: str, position: int, reason: str
) -> None:
    with pytest.raises(PatternError) as info:
        Pattern(text)
    error = info.value
    assert error.pattern == text
    assert error.position == position
    assert reason in error.reason
    assert repr(text) in str(error)
    assert f"position {position}" in str(error)
    assert isinstance(error, FnmatchError)
    assert isinstance(error, ValueError)

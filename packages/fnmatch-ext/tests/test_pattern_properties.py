"""Property tests: without `**` and groups, `Pattern` agrees with the standard library's fnmatch
wherever a `*` does not have to span a `/` (ours stops at `/`, the standard library's does not)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from fnmatch_ext import Pattern

# Characters the generated paths are drawn from; includes regex metacharacters on purpose.
ALPHABET = "ab/.-+{}|^$\\:é"
# Literal pattern characters: everything except the glob syntax `* ? [ ] ( )`.
LITERALS = ALPHABET


@dataclass(frozen=True)
class Token:
    text: str  # how the token is written in a pattern
    fragment: st.SearchStrategy[str]  # generates text this token matches


def literal() -> st.SearchStrategy[Token]:
    return st.sampled_from(LITERALS).map(lambda c: Token(c, st.just(c)))


def star() -> st.SearchStrategy[Token]:
    no_slash = ALPHABET.replace("/", "")
    return st.just(Token("*", st.text(alphabet=no_slash, max_size=4)))


def question() -> st.SearchStrategy[Token]:
    return st.just(Token("?", st.sampled_from(ALPHABET)))


@st.composite
def char_class(draw: st.DrawFn) -> Token:
    # Members exclude '!' and '^' so that a leading one never reads as negation, and ']' so
    # that the class ends where expected; both are covered by the example tests.
    members = draw(st.sets(st.sampled_from("ab.-/+$|\\:é"), min_size=1, max_size=4))
    ordered = sorted(members, key=lambda c: c == "-")  # '-' last, so it is never a range
    negate = draw(st.booleans())
    text = "[" + ("!" if negate else "") + "".join(ordered) + "]"
    if negate:
        fragment = st.sampled_from(ALPHABET).filter(lambda c: c not in members)
    else:
        fragment = st.sampled_from(ordered)
    return Token(text, fragment)


tokens = st.lists(
    st.one_of(literal(), literal(), star(), question(), char_class()), max_size=8
).filter(lambda ts: "**" not in "".join(t.text for t in ts))


def stdlib_matches(pattern: str, path: str) -> bool:
    return re.fullmatch(fnmatch.translate(pattern), path) is not None


@st.composite
def pattern_and_matching_path(draw: st.DrawFn) -> tuple[str, str]:
    drawn = draw(tokens)
    return "".join(t.text for t in drawn), "".join(draw(t.fragment) for t in drawn)


@given(pattern_and_matching_path())
def test_constructed_matches_agree(case: tuple[str, str]) -> None:
    pattern, path = case
    assert stdlib_matches(pattern, path)
    assert Pattern(pattern).match(path) is not None


@given(tokens, st.text(alphabet=ALPHABET.replace("/", ""), max_size=10))
def test_paths_without_slash_agree(drawn: list[Token], path: str) -> None:
    pattern = "".join(t.text for t in drawn)
    assert (Pattern(pattern).match(path) is not None) is stdlib_matches(pattern, path)


@given(tokens, st.text(alphabet=ALPHABET, max_size=10))
def test_ours_never_matches_more_than_stdlib(drawn: list[Token], path: str) -> None:
    pattern = "".join(t.text for t in drawn)
    if Pattern(pattern).match(path) is not None:
        assert stdlib_matches(pattern, path)

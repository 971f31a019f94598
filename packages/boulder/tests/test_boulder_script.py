from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boulder.script import (
    MAX_EXPANSION,
    Action,
    Breakpoint,
    ExpansionError,
    Kind,
    Scope,
    tokenize,
)


def scope(**definitions: str) -> Scope:
    actions = {
        "make": Action('make -j "%(jobs)"', dependencies=("binary(make)",)),
        "make_install": Action('%make install DESTDIR="%(installroot)"'),
        "patch": Action("patch -p1 -i", dependencies=("binary(patch)",)),
        "peek": Action("echo %(_name)"),
    }
    base = {"jobs": "8", "installroot": "/mason/install", "pkgdir": "/mason/recipe/pkg"}
    return Scope(actions, {**base, **definitions}, {"name": "hello"})


def test_tokens_cover_every_form() -> None:
    kinds = [t.kind for t in tokenize("a %% %(x) %(_y) %z %break_exit\n%")]
    assert kinds == [
        Kind.TEXT, Kind.TEXT, Kind.TEXT, Kind.DEFINITION, Kind.TEXT, Kind.BUILTIN, Kind.TEXT,
        Kind.ACTION, Kind.TEXT, Kind.BREAK_EXIT, Kind.NEWLINE, Kind.TEXT,
    ]  # fmt: skip


def test_escape_and_plain_percent() -> None:
    assert scope().expand_text("echo 100%% % %{x}") == "echo 100% % %{x}"


def test_action_takes_the_rest_of_its_line() -> None:
    out = scope().expand_text("%patch %(pkgdir)/x.patch\n%make_install -j1")
    assert out.splitlines() == [
        "patch -p1 -i /mason/recipe/pkg/x.patch",
        'make -j "8" install DESTDIR="/mason/install" -j1',
    ]


def test_dependencies_of_every_action_reached() -> None:
    assert scope().expand("%make_install\n%patch a").dependencies == {
        "binary(make)",
        "binary(patch)",
    }


def test_percent_letter_is_an_action_reference() -> None:
    with pytest.raises(ExpansionError, match="undefined action Y") as info:
        scope().expand("echo ok\ndate +%Y")
    assert info.value.unknown and info.value.line == 1


def test_unknown_definition() -> None:
    with pytest.raises(ExpansionError, match="undefined definition nope"):
        scope().expand("%(nope)")


def test_unknown_definition_deep_inside_reports_the_top_level_line() -> None:
    with pytest.raises(ExpansionError, match="undefined definition missing") as info:
        scope(outer="%(inner)", inner="x %(missing)").expand("a\nb\n  %(outer)")
    assert info.value.line == 2


def test_builtins_only_inside_macros() -> None:
    assert scope().expand_text("%peek") == "echo hello"
    with pytest.raises(ExpansionError, match="builtins not allowed"):
        scope().expand("%(_name)")


def test_self_reference_is_too_deep() -> None:
    with pytest.raises(ExpansionError, match="script call stack too deep"):
        scope(loop="%(loop)").expand("%(loop)")


def test_late_binding_follows_the_scope() -> None:
    defs = {"prefix": "/usr", "libdir": "%(prefix)/lib%(libsuffix)"}
    assert scope(**defs, libsuffix="").expand_text("%(libdir)") == "/usr/lib"
    assert scope(**defs, libsuffix="32").expand_text("%(libdir)") == "/usr/lib32"


def test_breakpoints_split_the_text_and_keep_their_line() -> None:
    out = scope().expand("one\n%break_continue\ntwo\nthree %break_exit\nfour")
    assert out.commands == (
        "one\n", Breakpoint(1, False), "\ntwo\nthree ", Breakpoint(3, True), "\nfour",
    )  # fmt: skip


def test_empty_texts_around_breakpoints_are_dropped() -> None:
    out = scope().expand("%break_continue%break_exit\nx")
    assert out.commands == (Breakpoint(0, False), Breakpoint(0, True), "\nx")


def test_nested_expansions_are_not_trimmed() -> None:
    # Macro bodies are trimmed when macro files are loaded; expansion keeps what it is given.
    assert scope(empty="", outer="[%(empty) x ]").expand_text("%(outer)") == "[ x ]"


def test_depth_limit_counts_the_phase_frame() -> None:
    chain = {f"d{i}": f"%(d{i + 1})" for i in range(126)} | {"d126": "end"}
    assert scope(**chain).expand_text("%(d0)") == "end"  # 127 nested macros fit
    chain["d126"] = "%(d127)"
    chain["d127"] = "end"
    with pytest.raises(ExpansionError, match="script call stack too deep"):
        scope(**chain).expand("%(d0)")


@given(st.text(alphabet=st.sampled_from("ab_9%()\n $")))
def test_escaped_text_expands_to_itself(text: str) -> None:
    # What boulder relies on to keep builtin values and upstream file names literal.
    assert scope().expand_text(text.replace("%", "%%")) == text


@given(st.text(alphabet=st.sampled_from("ab_9%()\n $")))
def test_tokens_reassemble_the_source(text: str) -> None:
    rebuilt = []
    for token in tokenize(text):
        if token.kind is Kind.ACTION:
            rebuilt.append(f"%{token.value}")
        elif token.kind is Kind.DEFINITION:
            rebuilt.append(f"%({token.value})")
        elif token.kind is Kind.BUILTIN:
            rebuilt.append(f"%(_{token.value})")
        elif token.kind in (Kind.BREAK_CONTINUE, Kind.BREAK_EXIT):
            rebuilt.append(f"%{token.value}")
        else:
            rebuilt.append(token.value)
    # `%%` comes back as a single `%`.
    assert "".join(rebuilt) == text.replace("%%", "%")


def bomb(levels: int = 9) -> dict[str, str]:
    """e0 is 100 bytes, and each e(n+1) ten copies of e(n): e8 would be 10 GB."""
    tiers = {"e0": "x" * 99 + "\n"}
    for level in range(1, levels):
        tiers[f"e{level}"] = f"%(e{level - 1})" * 10
    return tiers


def test_an_exponential_macro_is_refused_in_bounded_memory() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ExpansionError) as caught:
            scope(**bomb()).expand("echo one\n%(e8)\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == (
        f"%(e8): macro expansion larger than {MAX_EXPANSION} bytes (the limit, reached in %(e6))"
    )
    assert caught.value.line == 1 and not caught.value.unknown
    assert peak < 3 * MAX_EXPANSION


def test_many_references_to_a_large_macro_are_refused_too() -> None:
    # Each is under the bound; the phase that repeats them is not.
    big = {"big": "y" * (MAX_EXPANSION // 4)}
    assert len(scope(**big).expand_text("%(big)")) == MAX_EXPANSION // 4
    with pytest.raises(ExpansionError, match=r"^%\(big\): macro expansion larger than"):
        scope(**big).expand("%(big)" * 8)


def test_an_action_that_nests_too_deep_is_named() -> None:
    actions = {f"a{i}": Action(f"%a{i + 1}") for i in range(200)}
    with pytest.raises(ExpansionError) as caught:
        Scope(actions, {}, {}).expand("x\ny\n%a0")
    assert str(caught.value) == "%a0: script call stack too deep (more than 128 macros, at %a127)"
    assert caught.value.line == 2

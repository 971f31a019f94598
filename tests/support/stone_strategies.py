"""Hypothesis strategies for stone's values, shared by the tests of every package."""

from __future__ import annotations

from hypothesis import strategies as st

from stone import Dependency, Meta, Provider, RelationKind

# Stone strings are UTF-8 without NUL: no surrogates, no NUL.
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
names = texts.filter(bool)
u64s = st.integers(min_value=0, max_value=(1 << 64) - 1)


def relations(cls: type[Dependency] | type[Provider]) -> st.SearchStrategy[tuple[object, ...]]:
    return st.lists(st.builds(cls, st.sampled_from(RelationKind), names), max_size=5).map(tuple)


def metas(*, build_depends: bool = True) -> st.SearchStrategy[Meta]:
    """Any Meta; without `build_depends`, none has build dependencies (what a database that
    does not keep them gives back)."""
    return st.builds(
        Meta,
        name=names,
        version=texts,
        release=u64s,
        build_release=u64s,
        architecture=texts,
        summary=texts,
        description=texts,
        source_id=texts,
        homepage=texts,
        licenses=st.lists(texts, max_size=4).map(tuple),
        depends=relations(Dependency),
        provides=relations(Provider),
        conflicts=relations(Provider),
        build_depends=relations(Dependency) if build_depends else st.just(()),
        uri=st.none() | texts,
        hash=st.none() | texts,
        download_size=st.none() | u64s,
    )

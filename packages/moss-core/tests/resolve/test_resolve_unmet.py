"""Resolution that leaves unmet what nothing provides (a tree laid over another)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss_core.registry import MemorySource, Package, Registry
from moss_core.resolve import Lookup, MissingProviderError, resolve
from stone import Dependency, Meta, Provider


def _package(name: str, depends: tuple[str, ...] = (), provides: tuple[str, ...] = ()) -> Package:
    meta = Meta(
        name, "1.0", 1,
        depends=tuple(Dependency.parse(d) for d in depends),
        provides=tuple(Provider.parse(p) for p in provides),
    )  # fmt: skip
    return Package(name, meta, "repo")


REGISTRY = Registry([
    MemorySource("repo", 0, [
        _package("greet-devel", ("name(greet-libs)",), ("pkgconfig(greet)",)),
        _package("greet-libs", ("soname(libc.so.6(x86_64))",), ("soname(libgreet.so.1(x86_64))",)),
        _package("unrelated"),
    ]),
])  # fmt: skip


def test_unmet_dependencies_are_refused_by_default() -> None:
    with pytest.raises(MissingProviderError, match=r"soname\(libc.so.6\(x86_64\)\)"):
        resolve(REGISTRY, ["greet-devel"], Lookup.AVAILABLE_ONLY)


def test_allow_unmet_keeps_what_is_provided_and_skips_the_rest() -> None:
    chosen = resolve(REGISTRY, ["greet-devel"], Lookup.AVAILABLE_ONLY, allow_unmet=True)
    assert [p.name for p in chosen] == ["greet-libs", "greet-devel"]


NAMES = ["a", "b", "c", "d", "e"]
graphs = st.dictionaries(
    st.sampled_from(NAMES), st.lists(st.sampled_from([*NAMES, "host"]), max_size=3), min_size=1
)


@settings(max_examples=150, deadline=None)
@given(graphs, st.data())
def test_allow_unmet_meets_every_dependency_the_registry_can(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    """Every dependency the registry provides is met inside the result, the rest are exactly
    the unmet ones; and when none is unmet the result is the strict resolution's."""
    registry = Registry([
        MemorySource("repo", 0, [_package(n, tuple(f"name({d})" for d in deps))
                                 for n, deps in graph.items()]),
    ])  # fmt: skip
    roots = data.draw(st.lists(st.sampled_from(sorted(graph)), min_size=1, unique=True))
    chosen = resolve(registry, roots, Lookup.AVAILABLE_ONLY, allow_unmet=True)
    names = [p.name for p in chosen]
    assert set(roots) <= set(names) and len(names) == len(set(names))
    for package in chosen:
        for dependency in graph[package.name]:
            assert (dependency in names) == (dependency in graph)
    if not any(d not in graph for n in names for d in graph[n]):
        assert resolve(registry, roots, Lookup.AVAILABLE_ONLY) == chosen

"""Resolution that leaves unmet what nothing provides (a tree laid over another)."""

from __future__ import annotations

import pytest

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

"""Where packages come from: layered sources queried in priority order.

The installed packages of the active state, local `.stone` files named on the command line and
each repository are plugins; the registry asks them in priority order, highest first, so the
highest-priority source that has a package wins, as upstream.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from stone import Meta, Provider, RelationKind

INSTALLED_PRIORITY = 1 << 64
LOCAL_PRIORITY = (1 << 64) + 1
LOCAL_SOURCE = "local file"
"""The source of packages named by file on the command line: not a name a repository can have
(`sanitise_name` makes no spaces), so a repository called `local` is not taken for it."""


@dataclass(frozen=True)
class Package:
    """A package as a source offers it. `id` is the sha256 of its `.stone`."""

    id: str
    meta: Meta
    source: str
    installed: bool = False
    explicit: bool = False

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def version_text(self) -> str:
        return f"{self.meta.version}-{self.meta.release}"

    def provides(self, provider: Provider) -> bool:
        return provider in self.meta.all_provides()


def release_order(package: Package) -> tuple[int, int, str]:
    """Newest first: source release, then build release, then id for a stable tie-break."""
    return (-package.meta.release, -package.meta.build_release, package.id)


class Source(Protocol):
    """One layer of the registry."""

    @property
    def name(self) -> str: ...

    @property
    def priority(self) -> int: ...

    @property
    def installed(self) -> bool:
        """True for the installed packages of the active state, False for available ones."""
        ...

    def by_id(self, package_id: str) -> Package | None: ...

    def by_provider(self, provider: Provider) -> list[Package]: ...

    def all(self) -> Iterator[Package]: ...

    def search(self, needle: str) -> list[Package]:
        """The newest package of each name, where its name or summary contains `needle`,
        ignoring ASCII case (SQLite's LIKE)."""
        ...

    def holds(self, names: Collection[str]) -> set[str]:
        """Which of these package names the source has."""
        ...


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def ascii_lower(text: str) -> str:
    """Lower case for ASCII letters only: how SQLite's LIKE ignores case."""
    return text.translate(_ASCII_LOWER)


def matches(needle: str, name: str, summary: str) -> bool:
    """Whether a package's name or summary contains `needle`, ignoring ASCII case."""
    needle = ascii_lower(needle)
    return needle in ascii_lower(name) or needle in ascii_lower(summary)


class MemorySource:
    """Packages held in memory: the installed set, local files, tests."""

    def __init__(
        self, name: str, priority: int, packages: Iterable[Package], *, installed: bool = False
    ):
        self._name, self._priority, self._installed = name, priority, installed
        self._by_id: dict[str, Package] = {}
        self._by_provider: dict[Provider, list[Package]] = {}
        for package in packages:
            self._by_id[package.id] = package
            for provider in package.meta.all_provides():
                self._by_provider.setdefault(provider, []).append(package)
        for candidates in self._by_provider.values():
            candidates.sort(key=release_order)

    @property
    def name(self) -> str:
        return self._name

    @property
    def priority(self) -> int:
        return self._priority

    @property
    def installed(self) -> bool:
        return self._installed

    def by_id(self, package_id: str) -> Package | None:
        return self._by_id.get(package_id)

    def by_provider(self, provider: Provider) -> list[Package]:
        return list(self._by_provider.get(provider, ()))

    def all(self) -> Iterator[Package]:
        return iter(sorted(self._by_id.values(), key=lambda p: (p.name, *release_order(p))))

    def search(self, needle: str) -> list[Package]:
        newest: dict[str, Package] = {}
        for package in self.all():
            newest.setdefault(package.name, package)
        return [p for p in newest.values() if matches(needle, p.name, p.meta.summary)]

    def holds(self, names: Collection[str]) -> set[str]:
        return {p.name for p in self._by_id.values() if p.name in names}


class Registry:
    """Every source, highest priority first (ties by name, as upstream orders repository ids)."""

    def __init__(self, sources: Sequence[Source]):
        self.sources = sorted(sources, key=lambda source: (-source.priority, source.name))
        # Sources do not change while a registry lives; resolution asks the same questions of
        # database-backed sources many times, so answers are kept.
        self._by_id: dict[tuple[str, bool | None], Package | None] = {}
        self._first: dict[tuple[Provider, bool | None], Package | None] = {}

    def _sources(self, installed: bool | None) -> Iterator[Source]:
        return (s for s in self.sources if installed is None or s.installed == installed)

    def by_id(self, package_id: str, *, installed: bool | None = None) -> Package | None:
        key = (package_id, installed)
        if key not in self._by_id:
            found = (s.by_id(package_id) for s in self._sources(installed))
            self._by_id[key] = next((p for p in found if p is not None), None)
        return self._by_id[key]

    def by_provider(self, provider: Provider, *, installed: bool | None = None) -> list[Package]:
        """Every candidate, best first: source priority, then newest release."""
        return [p for s in self._sources(installed) for p in s.by_provider(provider)]

    def by_name(self, name: str, *, installed: bool | None = None) -> list[Package]:
        return self.by_provider(Provider(RelationKind.NAME, name), installed=installed)

    def first(self, provider: Provider, *, installed: bool | None = None) -> Package | None:
        """The best candidate: from the highest-priority source that has one, its newest."""
        key = (provider, installed)
        if key not in self._first:
            self._first[key] = next(
                (c[0] for s in self._sources(installed) if (c := s.by_provider(provider))), None
            )
        return self._first[key]

    def available(self) -> Iterator[Package]:
        """The winner for each package name among the available sources."""
        seen: set[str] = set()
        for source in self._sources(False):
            for package in source.all():
                if package.name not in seen:
                    seen.add(package.name)
                    yield package

    def installed(self) -> list[Package]:
        return [p for s in self._sources(True) for p in s.all()]

    def search(self, keyword: str, *, installed: bool | None = None) -> list[Package]:
        """Packages whose name or summary contains `keyword`, ignoring case, one per name: the
        installed one, else the winner among the available sources (as `available` picks it),
        and only if that winner matches. By name, names containing the keyword first. Case is
        ignored for ASCII letters, as SQLite's LIKE does.

        Each source filters its own packages, so a repository of 65,535 packages costs a scan
        of names and summaries, not a Meta per package.
        """
        needle = ascii_lower(keyword)
        found: dict[str, Package] = {}
        if installed is not False:
            for source in self._sources(True):
                for package in source.search(needle):
                    found.setdefault(package.name, package)
        if installed is not True:
            higher: list[Source] = []
            for source in self._sources(False):
                hits = {p.name: p for p in source.search(needle) if p.name not in found}
                for earlier in higher:
                    for name in earlier.holds(hits.keys()):
                        del hits[name]
                found.update(hits)
                higher.append(source)
        return sorted(found.values(), key=lambda p: (needle not in ascii_lower(p.name), p.name))


def with_flags(package: Package, *, explicit: bool) -> Package:
    return replace(package, explicit=explicit)

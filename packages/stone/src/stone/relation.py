"""Dependencies and providers: a kind and a name, written `kind(name)` as text."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Self


class RelationKind(IntEnum):
    """The kind byte of a dependency or provider record."""

    NAME = 0
    SONAME = 1
    PKGCONFIG = 2
    INTERPRETER = 3
    CMAKE = 4
    PYTHON = 5
    BINARY = 6
    SYSBINARY = 7
    PKGCONFIG32 = 8

    @property
    def text(self) -> str:
        # A lookup: asked for every relation of every package a refresh stores.
        return _TEXT_BY_KIND[self]


_TEXT_BY_KIND = {kind: kind.name.lower() for kind in RelationKind}
_KIND_BY_TEXT = {kind.text: kind for kind in RelationKind}


@dataclass(frozen=True, order=False, slots=True)
class _Relation:
    kind: RelationKind
    name: str

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse `kind(name)`; text without `(` is a plain package name.

        Only the first `(` separates the kind, so `soname(libc.so.6(x86_64))` keeps its inner
        parentheses in the name.
        """
        if "(" not in text:
            if not text:
                raise ValueError("empty dependency or provider")
            return cls(RelationKind.NAME, text)
        word, _, rest = text.partition("(")
        if not rest.endswith(")"):
            raise ValueError(f"{text!r} does not end with ')'")
        kind = _KIND_BY_TEXT.get(word)
        if kind is None:
            raise ValueError(f"unknown kind {word!r} in {text!r}")
        name = rest[:-1]
        if not name:
            raise ValueError(f"empty name in {text!r}")
        return cls(kind, name)

    def __str__(self) -> str:
        return f"{self.kind.text}({self.name})"

    @property
    def plain_text(self) -> str:
        """Text as recipes and boulder's JSON report write it: a `name` kind is the bare name."""
        return self.name if self.kind is RelationKind.NAME else str(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, _Relation):
            return NotImplemented
        return str(self) < str(other)


class Dependency(_Relation):
    """Something a package needs."""

    __slots__ = ()


class Provider(_Relation):
    """Something a package offers (also the form of `conflicts` entries)."""

    __slots__ = ()

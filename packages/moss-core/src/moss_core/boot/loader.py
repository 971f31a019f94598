"""How systemd-boot orders Type #1 entries and picks the default (`src/boot/boot.c`), for the
entries it would read: `boot status` shows which entry a plain reboot lands on, and the tests
hold the planner's default to it."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping


def _valid_version_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "~-^.")


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def version_compare(a: str, b: str) -> int:
    """systemd's `strverscmp_improved`: -1, 0 or 1. `~` sorts before anything (pre-release),
    `-` before `^` before `.`, numbers by value, numbers above letters."""
    i = j = 0
    while True:
        while i < len(a) and not _valid_version_char(a[i]):
            i += 1
        while j < len(b) and not _valid_version_char(b[j]):
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if ca == "~" or cb == "~":
            if (ca != "~") != (cb != "~"):
                return 1 if ca != "~" else -1
            i, j = i + 1, j + 1
            ca = a[i] if i < len(a) else ""
            cb = b[j] if j < len(b) else ""
        if not ca or not cb:
            rest_a, rest_b = a[i:], b[j:]
            return _sign((rest_a > rest_b) - (rest_a < rest_b))
        for separator in "-^.":
            if ca == separator or cb == separator:
                if (ca != separator) != (cb != separator):
                    return 1 if ca != separator else -1
                i, j = i + 1, j + 1
                ca = a[i] if i < len(a) else ""
                cb = b[j] if j < len(b) else ""
        if (ca.isdigit() and ca.isascii()) or (cb.isdigit() and cb.isascii()):
            end_a, end_b = _span(a, i, _is_digit), _span(b, j, _is_digit)
            if (end_a > i) != (end_b > j):
                return 1 if end_a > i else -1
            while i < end_a and a[i] == "0":
                i += 1
            while j < end_b and b[j] == "0":
                j += 1
            if end_a - i != end_b - j:
                return 1 if end_a - i > end_b - j else -1
            if a[i:end_a] != b[j:end_b]:
                return 1 if a[i:end_a] > b[j:end_b] else -1
        else:
            end_a, end_b = _span(a, i, _is_alpha), _span(b, j, _is_alpha)
            shortest = min(end_a - i, end_b - j)
            left, right = a[i : i + shortest], b[j : j + shortest]
            if left != right:
                return 1 if left > right else -1
            if end_a - i != end_b - j:
                return 1 if end_a - i > end_b - j else -1
        i, j = end_a, end_b


def _is_digit(char: str) -> bool:
    return char.isascii() and char.isdigit()


def _is_alpha(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _span(text: str, start: int, accept: Callable[[str], bool]) -> int:
    end = start
    while end < len(text) and accept(text[end]):
        end += 1
    return end


class _Descending:
    __slots__ = ("entry_id",)

    def __init__(self, entry_id: str):
        self.entry_id = entry_id

    def __lt__(self, other: _Descending) -> bool:
        return version_compare(self.entry_id, other.entry_id) > 0


def boot_order(entry_ids: Iterable[str]) -> list[str]:
    """Entries without `sort-key` (all of moss's): by id, lowercased, version-aware descending."""
    return sorted((i.lower() for i in entry_ids), key=_Descending)


def default_entry(
    entry_ids: Iterable[str], loader_conf: Mapping[str, str], pinned: str | None = None
) -> str | None:
    """The entry a plain boot picks: the user's pinned `LoaderEntryDefault`, else the first in
    boot order matching loader.conf's `default` glob, else the first entry."""
    ordered = boot_order(entry_ids)
    if pinned is not None and pinned.lower() in ordered:
        return pinned.lower()
    pattern = loader_conf.get("default")
    if pattern:
        for entry_id in ordered:
            if fnmatch.fnmatchcase(entry_id, pattern.lower()):
                return entry_id
    return ordered[0] if ordered else None


def parse_loader_conf(text: str) -> dict[str, str]:
    """`key value` lines; a value in double quotes is unquoted, the last of a key wins."""
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(None, 1)
        key, value = fields[0], fields[1].strip() if len(fields) > 1 else ""
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        settings[key] = value
    return settings

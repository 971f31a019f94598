"""The model of systemd-boot's ordering (`strverscmp_improved`, `boot_entry_compare`) and of
its default selection."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from moss_core.boot.loader import boot_order, default_entry, parse_loader_conf, version_compare

# Ascending, as systemd's own test of strverscmp_improved lists them.
ASCENDING = [
    "~1",
    "",
    "ab",
    "abb",
    "abc",
    "0001",
    "002",
    "12",
    "122",
    "122.9",
    "123~rc1",
    "123",
    "123-a",
    "123-a.1",
    "123-a1",
    "123-a1.1",
    "123-3",
    "123-3.1",
    "123^patch1",
    "123^1",
    "123.a-1",
    "123.1-1",
    "123a-1",
    "124",
]


def test_versions_in_systemd_order() -> None:
    for low, high in itertools.combinations(ASCENDING, 2):
        assert version_compare(low, high) == -1, (low, high)
        assert version_compare(high, low) == 1, (high, low)


def test_kernel_versions() -> None:
    assert version_compare("6.18.13-130.desktop", "6.12.60-50.lts") == 1
    assert version_compare("aerynos-6.1-42.conf", "aerynos-6.1-41.conf") == 1
    assert version_compare("aerynos-6.1-100.conf", "aerynos-6.1-99.conf") == 1
    assert version_compare("0001", "1") == 0


@given(
    st.text(alphabet="0123456789.-~^ab_", max_size=12),
    st.text(alphabet="0123456789.-~^ab_", max_size=12),
)
def test_compare_is_antisymmetric(a: str, b: str) -> None:
    assert version_compare(a, b) == -version_compare(b, a)
    assert version_compare(a, a) == 0


def test_order_and_default() -> None:
    ids = ["aerynos-6.12.60-50.lts-12.conf", "Aerynos-6.18.13-130.desktop-11.conf", "fedora.conf"]
    assert boot_order(ids) == [
        "fedora.conf",
        "aerynos-6.18.13-130.desktop-11.conf",
        "aerynos-6.12.60-50.lts-12.conf",
    ]
    assert default_entry(ids, {"default": "aerynos*"}) == "aerynos-6.18.13-130.desktop-11.conf"
    assert default_entry(ids, {"default": "aerynos-6.12.60-50.lts-12.conf"}) == ids[0]
    assert default_entry(ids, {}) == "fedora.conf"
    assert default_entry(ids, {"default": "nothing*"}, pinned="FEDORA.conf") == "fedora.conf"
    assert default_entry([], {}) is None


def test_loader_conf_parsing() -> None:
    text = '# c\ntimeout 5\ndefault  "aerynos*"\n\teditor\tno\ndefault x\n'
    assert parse_loader_conf(text) == {"timeout": "5", "default": "x", "editor": "no"}

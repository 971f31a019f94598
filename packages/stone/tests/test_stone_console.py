"""What the three command lines share: sizes as they print them."""

from __future__ import annotations

from stone.console import human_size


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536 * 1024, 3 << 30, 5 * 1024**3 // 2)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 MiB", "3.0 GiB", "2.5 GiB"
    ]  # fmt: skip

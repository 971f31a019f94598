"""Pinning git refs in recipe text: only the ref changes."""

from __future__ import annotations

from pathlib import Path

from boulder.recipe.pin import pin_git_ref, pin_text


def test_pin_scalar_and_map_forms(tmp_path: Path) -> None:
    recipe = tmp_path / "stone.yaml"
    text = (
        "upstreams:\n"
        "  - https://x/a.tar.gz: abcdef\n"
        '  - git|https://x/b.git: "v2.0"   # keep me\n'
        "  - git|https://x/c.git:\n"
        "      clonedir: c\n"
        "      ref: main\n"
    )
    recipe.write_text(text)
    assert pin_git_ref(recipe, 1, "v2.0", "1" * 40)
    assert pin_git_ref(recipe, 2, "main", "2" * 40)
    assert not pin_git_ref(recipe, 0, "abcdef", "3" * 40)
    assert recipe.read_text() == text.replace('"v2.0"', f"{'1' * 40} # v2.0").replace(
        "ref: main", f"ref: {'2' * 40} # main"
    )
    assert pin_text("a: b\n", 0, 3, "other", "c") is None

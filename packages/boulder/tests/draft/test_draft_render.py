"""The drafted recipe's text: layout, quoting, and the note of what is left to decide."""

from __future__ import annotations

from ruamel.yaml import YAML

from boulder.draft.detect import System
from boulder.draft.render import Draft, Source, render_monitoring, render_stone, scalar


def test_scalars_read_back_as_the_same_string() -> None:
    yaml = YAML(typ="safe", pure=True)
    for value in (
        "https://a.example/x?y=1&z",
        "UPDATE HOMEPAGE",
        "a #b",
        "1.0",
        "yes",
        "git|https://h/r.git",
        "pkgconfig(glib-2.0)",
        "x: y",
        "'quoted'",
    ):
        assert yaml.load(f"k: {scalar(value)}\n") == {"k": value}, value


def _draft(**changes: object) -> Draft:
    fields: dict[str, object] = dict(
        name="x", version="1.0", homepage="https://github.com/o/x",
        upstreams=(Source("https://h/x-1.0.tar.gz", "ab" * 32),), licenses=("MIT",),
        system=System.MESON, builddeps=("pkgconfig(z)",), undecided=("summary and description",),
    )  # fmt: skip
    fields.update(changes)
    return Draft(**fields)  # type: ignore[arg-type]


def test_stone_text_is_laid_out_as_aerynos_recipes() -> None:
    assert render_stone(_draft(), 2026) == (
        "# SPDX-FileCopyrightText: 2026 AerynOS Developers\n"
        "# SPDX-License-Identifier: MPL-2.0\n"
        "#\n"
        "# Drafted by `boulder recipe new`. Still to do by hand:\n"
        "#   - summary and description\n"
        "\n"
        "name        : x\n"
        'version     : "1.0"\n'
        "release     : 1\n"
        "homepage    : https://github.com/o/x\n"
        "upstreams   :\n"
        f"    - https://h/x-1.0.tar.gz : {'ab' * 32}\n"
        "summary     : UPDATE SUMMARY\n"
        "description : |\n"
        "    UPDATE DESCRIPTION\n"
        "license     :\n"
        "    - MIT\n"
        "builddeps   :\n"
        "    - pkgconfig(z)\n"
        "setup       : |\n"
        "    %meson\n"
        "build       : |\n"
        "    %meson_build\n"
        "install     : |\n"
        "    %meson_install\n"
    )


def test_monitoring_feed_from_the_homepage() -> None:
    assert "  rss: https://github.com/o/x/releases.atom\n" in render_monitoring(_draft(), 2026)
    pypi = _draft(homepage="https://pypi.org/project/foo")
    assert "  rss: https://pypi.org/rss/project/foo/releases.xml\n" in render_monitoring(pypi, 1)
    assert "  rss: ~\n" in render_monitoring(_draft(homepage="https://e.example"), 1)

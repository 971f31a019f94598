"""Package metadata assembly and the JSON manifest (pure)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from boulder.build.analysis import Bucket
from boulder.build.emit import (
    Emitted,
    manifest_json,
    package_depends,
    package_meta,
    package_provides,
)
from boulder.macros.load import MacroSet
from boulder.packages import ResolvedPackage, plan_packages
from boulder.recipe.load import load_recipe
from stone import Meta


def _package(**changes: object) -> ResolvedPackage:
    base: dict[str, object] = {
        "name": "foo", "summary": None, "description": None, "rundeps": (),
        "rundeps_exclude": (), "provides_exclude": (), "conflicts": (), "paths": (),
    }  # fmt: skip
    base.update(changes)
    return ResolvedPackage(**base)  # type: ignore[arg-type]


def test_depends_drop_own_providers_add_rundeps_and_exclude() -> None:
    package = _package(rundeps=("bar", "pkgconfig(zlib)"), rundeps_exclude=(r"soname\(libc", "["))
    found = {"soname(libc.so.6(x86_64))", "soname(libfoo.so.1(x86_64))", "binary(x)"}
    depends = package_depends(package, found, {"soname(libfoo.so.1(x86_64))"})
    assert [str(d) for d in depends] == ["binary(x)", "name(bar)", "pkgconfig(zlib)"]


def test_provides_exclusion() -> None:
    package = _package(provides_exclude=(r"pkgconfig\(foo\)",))
    provides = package_provides(package, {"pkgconfig(foo)", "pkgconfig(foo-extra)"})
    assert [str(p) for p in provides] == ["pkgconfig(foo-extra)"]
    provides = package_provides(_package(), {"pkgconfig(foo)"})
    assert [str(p) for p in provides] == ["pkgconfig(foo)"]


def test_meta_of_a_sub_package(write_recipe: Callable[[str], Path], macros: MacroSet) -> None:
    loaded = load_recipe(
        write_recipe("summary: Hi\nbuilddeps: [pkgconfig(zlib)]\ncheckdeps: [b]\n")
    )
    devel = plan_packages(loaded, macros).get("hello-devel")
    assert devel is not None
    bucket = Bucket(provides={"pkgconfig(hello)"}, depends=set())
    meta = package_meta(loaded.recipe, devel, bucket, build_release=3, architecture="x86_64")
    assert (meta.name, meta.version, meta.release, meta.build_release) == (
        "hello-devel",
        "1.0",
        1,
        3,
    )
    assert meta.source_id == "hello" and meta.homepage == "https://example.com/hello"
    assert [str(d) for d in meta.depends] == ["name(hello)"]
    assert [str(d) for d in meta.build_depends] == ["name(b)", "pkgconfig(zlib)"]
    assert meta.filename == "hello-devel-1.0-1-3-x86_64.stone"


def test_manifest_json_shape() -> None:
    meta = Meta(name="foo", version="1.0", release=2, source_id="foo", architecture="x86_64")
    text = manifest_json([Emitted(meta, Path("x.stone"), ("/usr/bin/foo",))])
    comment, body = text.split("\n", 1)
    assert comment == "/** Human readable report. This is not consumed by boulder */"
    assert body.startswith('{\n\t"manifest-version": "0.2",\n') and body.endswith("}\n")
    assert json.loads(body)["packages"] == {"foo": {"files": ["/usr/bin/foo"], "name": "foo"}}
    assert json.loads(body)["source-release"] == "2"

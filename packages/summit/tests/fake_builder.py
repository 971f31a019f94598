"""A stand-in for boulder in the queue tests: `fake_builder.py RECIPE_DIR OUTPUT_DIR PROFILE`.

It reads the recipe with boulder's loader, fails unless every build dependency is provided by
the repository's currently published `stone.index`, honours a `fail` marker file, sleeps (in a
child `sleep`, as a real build has children), and writes a real binary `.stone` whose provides
are those of the recipe's committed manifest. Each success appends the recipe name to
`<repo>/../builds.txt`, so tests can count builds.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import xxhash

from boulder.recipe.load import load_recipe
from stone import (
    BytesBlob,
    Dependency,
    FileType,
    LayoutEntry,
    Meta,
    StoneReader,
    write_binary,
)


def published(repo: Path) -> set[str]:
    index = repo / "stone.index"
    if not index.is_file():
        return set()
    with StoneReader(index) as reader:
        reader.expect(FileType.REPOSITORY)
        metas = reader.metas()
    return {f"name({m.name})" for m in metas} | {str(p) for m in metas for p in m.provides}


def main() -> int:
    recipe_dir, output, _profile = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    repo = output.parents[3]
    recipe = load_recipe(recipe_dir / "stone.yaml").recipe
    have = published(repo)
    missing = [d for d in recipe.builddeps if str(Dependency.parse(d)) not in have]
    if missing:
        print(f"fake builder: unresolved build dependencies {missing}", flush=True)
        return 3
    delay = float((recipe_dir / "sleep").read_text()) if (recipe_dir / "sleep").exists() else 0.5
    subprocess.run(["sleep", str(delay)], check=True)
    if (recipe_dir / "fail").exists():
        print("fake builder: failing as asked", flush=True)
        return 2
    with StoneReader(recipe_dir / "manifest.x86_64.bin") as reader:
        provides = reader.metas()[0].provides
    content = f"{recipe.name} {recipe.version}-{recipe.release}\n".encode()
    digest = xxhash.xxh3_128_intdigest(content)
    meta = Meta(
        name=recipe.name, version=recipe.version, release=recipe.release, build_release=1,
        architecture="x86_64", summary=recipe.name, description=recipe.name,
        source_id=recipe.name, homepage=recipe.homepage, licenses=recipe.license,
        provides=provides,
    )  # fmt: skip
    layout = [LayoutEntry.directory("share"), LayoutEntry.regular(f"share/{recipe.name}", digest)]
    buffer = io.BytesIO()
    write_binary(buffer, meta, layout, {digest: BytesBlob(content)})
    (output / meta.filename).write_bytes(buffer.getvalue())
    with open(repo.parent / "builds.txt", "a") as log:
        log.write(f"{recipe.name}\n")
        log.flush()
        os.fsync(log.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())

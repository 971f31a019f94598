"""Explicit refusals: a package path or symlink that would escape the root, an index URI that
leaves its repository, and a transaction trigger that writes outside `/usr`. Each is refused
(or lands inside the root), and the host path it aimed at outside the scratch root is untouched.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import xxhash
import zstandard
from moss_roots import active_state, db_view, make_stone, run_moss, tree_listing

from moss_core.container import namespaces_available
from moss_core.repository import build_index
from stone import PayloadKind, StoneReader, write_index


def _patch_layout(stone: Path, old: str, new: str) -> None:
    """Rewrite one layout path (or symlink target) of a `.stone` in place, byte for byte: the
    writer refuses unsafe paths, so a hostile package is made by editing a safe one."""
    assert len(old.encode()) == len(new.encode()), "records keep their lengths"
    data = stone.read_bytes()
    with StoneReader(io.BytesIO(data), name=str(stone)) as reader:
        refs = list(reader.payloads)
    out = [data[:32]]
    for ref in refs:
        header = ref.header
        body = data[ref.offset : ref.offset + header.stored_size]
        if header.kind is PayloadKind.LAYOUT:
            plain = zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True)
            text = plain.read()
            assert text.count(old.encode()) == 1, (old, text)
            text = text.replace(old.encode(), new.encode())
            body = zstandard.ZstdCompressor(level=3).compress(text)
            header = dataclasses.replace(
                header,
                stored_size=len(body),
                plain_size=len(text),
                checksum=xxhash.xxh3_64_intdigest(body),
            )
        out.append(header.encode() + body)
    stone.write_bytes(b"".join(out))


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(root, packages, outside): the root two levels below tmp_path, `outside` beside them."""
    root = tmp_path / "a" / "root"
    root.mkdir(parents=True)
    packages = tmp_path / "packages"
    packages.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    return root, packages, outside


def _base(root: Path, packages: Path) -> None:
    base = make_stone(packages, "base", {"share/base/one": b"1", "lib/keep": b"k"})
    assert run_moss(root, "-y", "install", str(base)).returncode == 0


def _refused(root: Path, *args: str) -> str:
    """Run moss, which must refuse with one line and change nothing."""
    listing, active, states = tree_listing(root / "usr"), active_state(root), db_view(root).states
    result = run_moss(root, "-y", *args)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("moss: error: ") and result.stderr.count("\n") == 1, (
        result.stderr
    )
    assert tree_listing(root / "usr") == listing
    assert active_state(root) == active and db_view(root).states == states
    assert not (root / ".moss/root/staging/usr").exists()
    return result.stderr


@pytest.mark.parametrize("kind", ["dotdot", "absolute"])
def test_layout_path_escaping_the_root_is_refused(
    layout: tuple[Path, Path, Path], kind: str
) -> None:
    root, packages, outside = layout
    _base(root, packages)
    # From usr/: ../../../outside is tmp_path/outside.
    new = "../../../outside/pwned" if kind == "dotdot" else f"{outside}/pwned"
    old = "x" * len(new)
    evil = make_stone(packages, "evil", {old: b"pwned\n"})
    _patch_layout(evil, old, new)
    error = _refused(root, "install", str(evil))
    assert "layout path" in error, error
    assert not any(outside.iterdir())


def test_symlink_out_then_file_beneath_is_refused(layout: tuple[Path, Path, Path]) -> None:
    root, packages, outside = layout
    _base(root, packages)
    sentinel = f"moss-reliability-{uuid.uuid4().hex}"
    # usr/lib/x -> tmp_path/outside, and -> /etc (deep enough to reach / from any root).
    targets = {"out": "../../../../outside", "etc": "../" * 64 + "etc"}
    for name, target in targets.items():
        link = make_stone(packages, f"link-{name}", {f"lib/{name}": f"->{target}"})
        # The file beneath the link, made as lib/y/... and moved under the link by editing.
        beneath = make_stone(
            packages, f"beneath-{name}", {f"lib/{'y' * len(name)}/{sentinel}": b"x"}
        )
        _patch_layout(beneath, f"lib/{'y' * len(name)}/{sentinel}", f"lib/{name}/{sentinel}")
        # Together in one transaction, and one after the other.
        error = _refused(root, "install", str(link), str(beneath))
        assert "conflict" in error, error
        assert run_moss(root, "-y", "install", str(link)).returncode == 0
        error = _refused(root, "install", str(beneath))
        assert "conflict" in error, error
        assert run_moss(root, "-y", "remove", f"link-{name}").returncode == 0
    assert not any(outside.iterdir())
    assert not os.path.lexists(f"/etc/{sentinel}")


def test_symlinked_directory_inside_the_tree_keeps_files_inside(
    layout: tuple[Path, Path, Path],
) -> None:
    root, packages, outside = layout
    _base(root, packages)
    # A link that leads to a directory of the tree: entries beneath it move there.
    link = make_stone(packages, "link", {"lib/alias": "->../share/base"})
    beneath = make_stone(packages, "beneath", {"lib/yyyyy/two": b"2"})
    _patch_layout(beneath, "lib/yyyyy/two", "lib/alias/two")
    result = run_moss(root, "-y", "install", str(link), str(beneath))
    assert result.returncode == 0, result.stderr
    assert (root / "usr/share/base/two").read_bytes() == b"2"
    assert not any(outside.iterdir())


@pytest.mark.parametrize(
    "uri", ["../../elsewhere.stone", "../elsewhere.stone", "ABSOLUTE", "http://127.0.0.1:9/x.stone"]
)
def test_index_uri_leaving_the_repository_is_refused(
    layout: tuple[Path, Path, Path], uri: str
) -> None:
    root, packages, outside = layout
    _base(root, packages)
    repo = packages / "repo" / "x86_64"
    repo.mkdir(parents=True)
    stone = make_stone(repo, "escapee", {"share/escapee": b"e"})
    elsewhere = packages / "elsewhere.stone"
    shutil.copy(stone, elsewhere)
    shutil.copy(stone, packages / "repo" / "elsewhere.stone")
    (meta,) = build_index(repo)
    if uri == "ABSOLUTE":
        uri = elsewhere.as_uri()
    out = io.BytesIO()
    write_index(out, [dataclasses.replace(meta, uri=uri)])
    (repo / "stone.index").write_bytes(out.getvalue())
    added = run_moss(root, "-y", "repo", "add", "r", f"file://{repo}/stone.index")
    assert added.returncode == 0, added.stderr
    error = _refused(root, "install", "escapee")
    assert "leaves the repository directory" in error, error
    assert not any(outside.iterdir())


# -- a transaction trigger writing outside /usr -------------------------------------------------

WRITE_SOURCE = r"""
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return 3;
        write(fd, "pwned\n", 6);
        close(fd);
    }
    return 0;
}
"""


def _static_writer(tmp_path: Path) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build a static trigger handler")
    source = tmp_path / "write.c"
    source.write_text(WRITE_SOURCE)
    binary = tmp_path / "write"
    build = subprocess.run(
        ["gcc", "-static", "-O1", "-o", str(binary), str(source)], capture_output=True, text=True
    )
    if build.returncode != 0:
        pytest.skip(f"gcc cannot link statically here: {build.stderr.strip()[:200]}")
    return binary.read_bytes()


@pytest.mark.parametrize(
    "target",
    [
        "/etc/x",
        "/usr/../etc/y",
        "/proc/self/../x",
        "/x",
    ],
)
def test_transaction_trigger_cannot_write_outside_usr(
    layout: tuple[Path, Path, Path], tmp_path: Path, target: str
) -> None:
    root, packages, outside = layout
    _install_sneaky(root, packages, tmp_path, target)
    error = _refused(root, "install", str(packages / "sneaky-1.0-1-1-x86_64.stone"))
    assert "escape" in error, error
    assert not any(outside.iterdir())


def test_transaction_trigger_writes_never_reach_the_host(
    layout: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Whatever a handler manages to write stays below the scratch root and outside `usr`."""
    root, packages, outside = layout
    sentinel = f"moss-reliability-{uuid.uuid4().hex}"
    targets = [f"/{sentinel}", f"/etc/{sentinel}", f"/tmp/{sentinel}", f"/../../{sentinel}"]
    for target in targets:
        _install_sneaky(root, packages, tmp_path, target)
        run_moss(root, "-y", "install", str(packages / "sneaky-1.0-1-1-x86_64.stone"))
        for host in (f"/{sentinel}", f"/etc/{sentinel}", f"/tmp/{sentinel}"):
            assert not os.path.lexists(host), host
        assert not any(outside.iterdir())
        assert not os.path.lexists(root / "etc" / sentinel)
        assert not any((root / "usr").rglob(sentinel))
        run_moss(root, "-y", "remove", "sneaky")


def _install_sneaky(root: Path, packages: Path, tmp_path: Path, target: str) -> None:
    """Make `sneaky`, whose transaction trigger writes `target`, on a root holding `base`."""
    reason = namespaces_available()
    if reason is not None:
        pytest.skip(f"trigger isolation needs namespaces: {reason}")
    (root / "etc").mkdir(exist_ok=True)
    if active_state(root) is None:
        _base(root, packages)
    writer = _static_writer(tmp_path)
    trigger = (
        "name: escape\ndescription: writes outside /usr\nhandlers:\n  go:\n"
        f'    run: /usr/bin/write-it\n    args: ["{target}"]\n'
        'paths:\n  "/usr/bin/write-it":\n    handlers: [go]\n'
    )
    make_stone(
        packages,
        "sneaky",
        {"bin/write-it": writer, "share/moss/triggers/tx.d/escape.yaml": trigger.encode()},
    )

"""The planner on data: hypothesis draws histories of states and partitions holding other
people's files; a plan applied to an in-memory partition must boot the active state by
default (as the systemd-boot model picks), reference only present files, keep what moss did
not write, and leave nothing to do on a second run."""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from moss_core.boot.inputs import Asset, BootState, EtcCmdline, Kernel, OsIdentity, parse_snippet
from moss_core.boot.loader import default_entry, parse_loader_conf, version_compare
from moss_core.boot.plan import (
    BootPlan,
    Existing,
    Listing,
    Part,
    Request,
    compose_options,
    entry_references,
    owned_entry_state,
    parse_entry,
    plan_boot,
    window_ids,
)

IDENTITY = OsIdentity("aerynos", "AerynOS", ("serpentos",))
LOADER = Asset(Path("/loader"), "systemd-bootx64.efi", hashlib.sha256(b"loader").hexdigest(), 6)
FOREIGN = {
    "loader/entries/fedora-6.9.conf": b"title Fedora\nlinux /fedora/vmlinuz\n",
    "loader/entries/aerynos-custom.conf": b"title mine\nlinux /EFI/aerynos/6.1/vmlinuz\n",
    "EFI/aerynos/6.1/vmlinuz": b"user's own kernel",
    "EFI/Microsoft/Boot/bootmgfw.efi": b"windows",
}


def asset(name: str, data: bytes) -> Asset:
    return Asset(Path(f"/src/{name}"), name, hashlib.sha256(data).hexdigest(), len(data))


versions = st.sampled_from(["6.1", "6.1.1", "6.2-1.lts", "6.10", "6.9.0-rc1", "7.0-2.desktop"])


@st.composite
def kernels(draw: st.DrawFn) -> Kernel:
    version = draw(versions)
    image = draw(st.sampled_from([b"A", b"B", b"C"]))
    initrds = draw(st.lists(st.sampled_from(["50-default.initrd", "10-ucode.initrd"]), unique=True))
    return Kernel(
        version,
        asset("vmlinuz", image + version.encode()),
        tuple(asset(n, n.encode()) for n in sorted(initrds)),
        (),
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[BootState], int, int]:
    ids = draw(st.lists(st.integers(1, 30), min_size=1, max_size=8, unique=True))
    states = [
        BootState(
            i,
            IDENTITY,
            tuple(
                {k.version: k for k in draw(st.lists(kernels(), min_size=1, max_size=3))}.values()
            ),
            (),
        )
        for i in ids
    ]
    return states, draw(st.sampled_from(ids)), draw(st.integers(0, 5))


def existing_of(files: dict[str, bytes]) -> Existing:
    dirs = {p.rsplit("/", n)[0] for p in files for n in range(1, p.count("/") + 1)}
    return Existing(
        esp=Listing({p: len(d) for p, d in files.items()}, frozenset(dirs)),
        entries={
            p.rsplit("/", 1)[1]: d.decode()
            for p, d in files.items()
            if p.startswith("loader/entries/") and p.endswith(".conf")
        },
        loader_conf=files["loader/loader.conf"].decode() if "loader/loader.conf" in files else None,
        loader_digests={
            p: hashlib.sha256(files[p]).hexdigest()
            for p in ("EFI/systemd/systemd-bootx64.efi", "EFI/Boot/BOOTX64.EFI")
            if p in files
        },
    )


def apply(plan: BootPlan, files: dict[str, bytes], content: dict[str, bytes]) -> None:
    for removal in (*plan.removals, *plan.late_removals):
        files.pop(removal.path, None)
    for copy in plan.copies:
        files[copy.path] = content[copy.asset.digest]
    for write in (*plan.writes, *([plan.loader_conf] if plan.loader_conf else [])):
        files[write.path] = write.text.encode()


def contents(states: list[BootState]) -> dict[str, bytes]:
    """What each digest's bytes are (the test's stand-in for the source files)."""
    found = {LOADER.digest: b"loader"}
    for state in states:
        for kernel in state.kernels:
            for item in (kernel.image, *kernel.initrds):
                found[item.digest] = b"x" * item.size
    return found


@settings(max_examples=60, deadline=None)
@given(histories(), st.sampled_from([{}, FOREIGN]))
def test_plan_properties(
    history: tuple[list[BootState], int, int], foreign: dict[str, bytes]
) -> None:
    states, active, window = history
    request = Request(states, active, "root=PARTUUID=P", IDENTITY, loader=LOADER, window=window)
    files = dict(foreign)
    content = contents(states)
    plan = plan_boot(request, existing_of(files))
    apply(plan, files, content)

    kept = set(window_ids((s.id for s in states), active, window))
    assert {e.state_id for e in plan.entries} == kept
    entries = existing_of(files).entries
    for name, text in entries.items():
        if owned_entry_state(name, text, ["aerynos"]) is None:
            continue
        for path in entry_references(text):
            assert any(p.lower() == path for p in files), f"{name} points at missing {path}"
    for path, data in foreign.items():
        assert files[path] == data
    active_versions = [k.version for s in states if s.id == active for k in s.kernels]
    newest = active_versions[0]
    for version in active_versions[1:]:
        if version_compare(version, newest) > 0:
            newest = version
    expected = f"aerynos-{newest}-{active}.conf"
    conf = parse_loader_conf(files["loader/loader.conf"].decode())
    assert plan.default == expected
    assert default_entry(entries, conf) == expected

    again = plan_boot(request, existing_of(files))
    assert not again.changes, again


@settings(max_examples=25, deadline=None)
@given(histories(), histories())
def test_moving_between_histories_collects_what_left(
    first: tuple[list[BootState], int, int], second: tuple[list[BootState], int, int]
) -> None:
    files: dict[str, bytes] = {}
    for states, active, window in (first, second):
        request = Request(states, active, "root=X", IDENTITY, loader=LOADER, window=window)
        apply(plan_boot(request, existing_of(files)), files, contents(states))
    states, active, window = second
    kept = set(window_ids((s.id for s in states), active, window))
    owned = {
        owned_entry_state(p.rsplit("/", 1)[1], d.decode(), ["aerynos"])
        for p, d in files.items()
        if p.startswith("loader/entries/")
    }
    assert owned == kept
    referenced = set().union(
        *(entry_references(d.decode()) for p, d in files.items() if p.startswith("loader/"))
    )
    kernels_left = {p.lower() for p in files if p.startswith("EFI/aerynos/")}
    assert kernels_left == referenced


def test_cmdline_order() -> None:
    state = BootState(42, IDENTITY, (), ("b",))
    kernel = Kernel("6.1", asset("vmlinuz", b"k"), (), ("a",))
    etc = EtcCmdline(("quiet",), frozenset({"50-splash.cmdline"}))
    assert compose_options("root=P ", state, kernel, etc) == "root=P rw a b moss.fstx=42 quiet"


def test_snippet_parsing() -> None:
    assert parse_snippet("# c\n  x  \n\ny\n") == "x y"
    assert parse_snippet("") == ""


def test_ownership() -> None:
    ours = "title t\nlinux /EFI/aerynos/6.1/vmlinuz-0\noptions root=X rw moss.fstx=42\n"
    assert owned_entry_state("aerynos-6.1-42.conf", ours, ["aerynos"]) == 42
    assert owned_entry_state("aerynos-6.1-41.conf", ours, ["aerynos"]) is None
    assert owned_entry_state("aerynos-custom.conf", ours, ["aerynos"]) is None
    assert owned_entry_state("fedora-6.1-42.conf", ours, ["aerynos"]) is None
    assert owned_entry_state("AERYNOS-6.1-42.conf", ours, ["aerynos"]) == 42
    assert Part.ESP.value == "esp"


@given(st.text(max_size=300))
def test_any_entry_or_loader_conf_text_parses(text: str) -> None:
    keys = parse_entry(text)
    assert all(isinstance(v, list) for v in keys.values())
    parse_loader_conf(text)
    owned_entry_state("aerynos-6.1-1.conf", text, ["aerynos"])


def test_display_name_cannot_add_keys() -> None:
    identity = OsIdentity("aerynos", "Evil\noptions init=/bin/sh\x00")
    state = BootState(1, identity, (Kernel("6.1", asset("vmlinuz", b"k"), (), ()),), ())
    plan = plan_boot(Request([state], 1, "root=X", IDENTITY, loader=LOADER), existing_of({}))
    (entry,) = plan.entries
    assert entry.text.splitlines()[0] == "title Evil options init=/bin/sh (6.1, state 1)"
    assert [line.split()[0] for line in entry.text.splitlines() if line] == [
        "title",
        "linux",
        "options",
    ]

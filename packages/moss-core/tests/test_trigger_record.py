"""The trigger record: its codec, the paths it accepts, and the pure checks on it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moss_core.trigger_record import (
    OUTPUT_KINDS,
    Artefacts,
    Output,
    TriggerRecord,
    blocks_update,
    candidate_paths,
    created_entries,
    decode,
    encode,
)

names = st.text(st.characters(blacklist_characters="/\x00"), min_size=1, max_size=8).filter(
    lambda n: n not in (".", "..")
)
paths = st.lists(names, min_size=1, max_size=4).map(lambda parts: "/usr/" + "/".join(parts))
outputs = st.builds(
    Output,
    path=paths,
    kind=st.sampled_from(OUTPUT_KINDS),
    digest=st.text(max_size=10),
    size=st.integers(0, 2**40),
    mtime_ns=st.integers(0, 2**62),
)
records = st.builds(
    TriggerRecord,
    name=st.text(min_size=1, max_size=10),
    definition=st.text(max_size=20),
    inputs=st.lists(st.tuples(paths, st.text(max_size=10)), max_size=4).map(
        lambda pairs: tuple(sorted(set(pairs)))
    ),
    outputs=st.lists(outputs, max_size=4).map(tuple),
)
artefacts = st.builds(Artefacts, state=st.integers(0, 2**31), triggers=st.lists(records).map(tuple))


@given(artefacts)
def test_a_record_reads_back_as_written(written: Artefacts) -> None:
    assert decode(encode(written)) == written


@pytest.mark.parametrize(
    "path", ["/usr/../etc/passwd", "/etc/passwd", "/usr/a//b", "/usr/./a", "usr/a", "/usr", 7]
)
def test_an_output_outside_usr_makes_no_record(path: object) -> None:
    text = encode(
        Artefacts(3, (TriggerRecord("t", "d", (), (Output("/usr/x", "file", "", 1, 1),)),))
    )
    data = json.loads(text)
    data["triggers"][0]["outputs"][0][0] = path
    assert decode(json.dumps(data)) is None


@pytest.mark.parametrize(
    "text", ["", "[]", "{}", '{"version": 2, "state": 1, "triggers": []}', "not json"]
)
def test_anything_else_makes_no_record(text: str) -> None:
    assert decode(text) is None


def _with_output(path: str) -> Artefacts:
    return Artefacts(1, (TriggerRecord("t", "d", (), (Output(path, "file", "", 1, 1),)),))


def test_an_update_blocks_on_an_output_it_would_meet() -> None:
    recorded = _with_output("/usr/share/cache/index")
    assert not blocks_update(recorded, {"/usr", "/usr/share", "/usr/share/x"}, [])
    assert blocks_update(recorded, {"/usr/share/cache/index"}, [])
    assert blocks_update(recorded, {"/usr/share/cache"}, ["/usr/share/cache"])
    assert not blocks_update(recorded, {"/usr/share/cache"}, ["/usr/share/other"])


def test_candidates_are_the_changed_paths_and_the_untouched_inputs() -> None:
    recorded = Artefacts(
        1, (TriggerRecord("t", "d", (("/usr/lib/a.so", "r:1"), ("/usr/lib/b.so", "r:2"))),)
    )
    changed = {"/usr/lib/b.so": None, "/usr/lib/c.so": "r:3", "/usr/lib": "d"}
    assert candidate_paths(recorded, changed) == {
        "/usr/lib/a.so": "r:1",
        "/usr/lib/c.so": "r:3",
        "/usr/lib": "d",
    }


listings = st.dictionaries(
    st.sampled_from(["", "a", "a/b", "c"]),
    st.dictionaries(st.sampled_from(["x", "y", "z"]), st.integers(1, 3)),
)


@given(before=listings, after=listings)
def test_created_entries_are_the_new_names(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]
) -> None:
    created, touched = created_entries(before, after)
    expected = sorted(
        f"{d}/{n}" if d else n
        for d, names in after.items()
        for n in names
        if n not in before.get(d, {})
    )
    assert created == expected
    replaced_or_gone = any(
        name not in after.get(d, {}) or after[d][name] != inode
        for d, names in before.items()
        for name, inode in names.items()
    ) or any(d not in after for d in before)
    assert touched == replaced_or_gone

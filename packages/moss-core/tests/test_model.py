"""The system model file: repositories in either form, packages, and writing it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from moss_core.model import ModelError, load_model, render
from moss_core.repository import Repository, RootIndex
from moss_core.trust.minisign import SecretKey

MODEL = """\
repositories {
    volatile {
        description "AerynOS volatile stream"
        base-uri "https://cdn.aerynos.dev/"
        version "stream/volatile"
        priority 0
    }
    local {
        uri "file:///srv/repo/stone.index"
        priority 10
        enabled #false
    }
}
packages {
    nano
}
"""


def test_repositories_by_uri_or_by_root_index_read_and_write_back(tmp_path: Path) -> None:
    path = tmp_path / "system-model.kdl"
    path.write_text(MODEL)
    model = load_model(path)
    volatile, local = model.repositories
    assert volatile == Repository(
        "volatile",
        "https://cdn.aerynos.dev/",
        0,
        "AerynOS volatile stream",
        root_index=RootIndex("stream/volatile", "main", "x86_64"),
    )
    assert (local.uri, local.priority, local.active, local.root_index) == (
        "file:///srv/repo/stone.index",
        10,
        False,
        None,
    )
    path.write_text(render(model.repositories, [("nano", None)]))
    assert load_model(path).repositories == model.repositories


def test_a_pinned_key_is_read_and_written_back(tmp_path: Path) -> None:
    key = SecretKey.generate().public_key()
    path = tmp_path / "system-model.kdl"
    path.write_text(
        f'repositories {{\n    s {{ uri "file:///i"; key "{key.line()}"; priority 1 }}\n}}\n'
    )
    (repo,) = load_model(path).repositories
    assert repo.pinned_key() == key
    path.write_text(render([repo], []))
    assert load_model(path).repositories == (repo,)
    path.write_text('repositories {\n    s { uri "file:///i"; key "RWQx"; priority 1 }\n}\n')
    with pytest.raises(ModelError, match=r"system-model.kdl:2: s: key: not a minisign"):
        load_model(path)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('x { base-uri "https://h/"; priority 1 }', "repository x: a repository given by base-uri"),
        ('x { uri "file:///i"; version "tag/v1"; priority 1 }', "only for a repository given by"),
        ("x { priority 1 }", "repository x needs a uri or a base-uri"),
        (
            'x { uri "file:///i"; base-uri "https://h/"; version "tag/v1"; priority 1 }',
            "repository x: uri and base-uri are two ways to give a repository",
        ),
    ],
)
def test_a_bad_repository_names_the_file(tmp_path: Path, body: str, problem: str) -> None:
    path = tmp_path / "system-model.kdl"
    path.write_text(f"repositories {{\n    {body}\n}}\n")
    with pytest.raises(ModelError, match=problem) as caught:
        load_model(path)
    assert str(caught.value).startswith(str(path))

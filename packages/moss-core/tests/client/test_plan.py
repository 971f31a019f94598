from __future__ import annotations

import pytest

from moss_core.client import ClientError
from moss_core.client.plan import parse_provider, plan_removal, plan_sync, unknown_package
from moss_core.model import ModelPackage, SystemModel
from moss_core.registry import INSTALLED_PRIORITY, MemorySource, Package, Registry
from stone import Dependency, Meta, Provider, RelationKind


def _package(
    name: str,
    release: int = 1,
    *,
    depends: tuple[str, ...] = (),
    installed: bool = False,
    explicit: bool = False,
) -> Package:
    meta = Meta(
        name,
        "1.0",
        release,
        depends=tuple(Dependency(RelationKind.NAME, d) for d in depends),
    )
    source = "installed" if installed else "repo"
    return Package(f"{name}-{release}", meta, source, installed=installed, explicit=explicit)


def _registry(installed: list[Package], available: list[Package]) -> Registry:
    return Registry(
        [
            MemorySource("installed", INSTALLED_PRIORITY, installed, installed=True),
            MemorySource("repo", 0, available),
        ]
    )


def test_removal_takes_dependents_and_what_only_they_needed() -> None:
    lib = _package("lib", installed=True)
    app = _package("app", depends=("lib",), installed=True, explicit=True)
    helper = _package("helper", installed=True)
    tool = _package("tool", depends=("helper",), installed=True, explicit=True)
    editor = _package("editor", installed=True, explicit=True)
    plan = plan_removal(_registry([lib, app, helper, tool, editor], []), ["lib", "tool"])
    assert [p.name for p in plan.removed] == ["app", "helper", "lib", "tool"]
    assert [p.name for p in plan.keep] == ["editor"]


def test_removal_of_what_is_not_installed_names_it() -> None:
    registry = _registry([_package("a", installed=True, explicit=True)], [])
    with pytest.raises(ClientError, match=r"^not installed: b, c$"):
        plan_removal(registry, ["a", "b", "c"])
    with pytest.raises(ClientError, match=r"^no packages are installed$"):
        plan_removal(_registry([], []), ["a"])


def test_removal_of_a_misspelt_name_suggests_the_installed_one() -> None:
    registry = _registry([_package("hello", installed=True, explicit=True)], [])
    with pytest.raises(ClientError, match=r"^not installed: helo \(did you mean hello\?\), zzz$"):
        plan_removal(registry, ["helo", "zzz"])


def test_unknown_package_suggests_close_names_or_says_there_is_no_repository() -> None:
    known = ["hello", "help2man", "shell", "nano"]
    assert str(unknown_package("helo", known)) == "no package found: helo (did you mean hello?)"
    assert str(unknown_package("xyzzy", known)) == "no package found: xyzzy"
    assert "no repository is configured" in str(unknown_package("x", [], repositories=0))


def test_sync_without_a_model_moves_explicit_packages_and_drops_orphans() -> None:
    old_app = _package("app", 1, depends=("old-lib",), installed=True, explicit=True)
    old_lib = _package("old-lib", installed=True)
    kept = _package("kept", installed=True, explicit=True)
    new_app = _package("app", 2)
    plan = plan_sync(_registry([old_app, old_lib, kept], [new_app]), None)
    assert plan.updated == ((old_app, new_app),)
    assert plan.removed == (old_lib,)
    assert plan.added == ()
    assert plan.explicit == {new_app.id, kept.id}


def test_sync_with_a_model_is_exactly_the_model() -> None:
    installed = _package("extra", installed=True, explicit=True)
    wanted, pinned_old, pinned_new = _package("wanted"), _package("pin", 1), _package("pin", 2)
    model = SystemModel(
        repositories=(),
        packages=(
            ModelPackage(Provider(RelationKind.NAME, "wanted")),
            ModelPackage(Provider(RelationKind.NAME, "pin"), pinned_old.id),
        ),
    )
    plan = plan_sync(_registry([installed], [wanted, pinned_old, pinned_new]), model)
    assert {p.id for p in plan.packages} == {wanted.id, pinned_old.id}
    assert plan.removed == (installed,)
    missing = SystemModel(repositories=(), packages=(ModelPackage(parse_provider("nope")),))
    with pytest.raises(ClientError, match=r"does not exist in any repository: name\(nope\)$"):
        plan_sync(_registry([], []), missing)


def test_a_malformed_provider_is_a_client_error() -> None:
    with pytest.raises(ClientError, match=r"^invalid package or provider 'soname\(': "):
        parse_provider("soname(")

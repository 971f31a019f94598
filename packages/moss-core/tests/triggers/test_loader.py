"""Loading trigger files: the real corpus, the tree layout, and broken files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fnmatch_ext import Pattern
from moss_core.triggers import (
    DeleteHandler,
    FileKind,
    Inhibitors,
    RunHandler,
    Scope,
    TriggerLoadError,
    load_trigger_file,
    load_triggers,
    parse_trigger,
    trigger_directory,
)

VALID = """\
name: {name}
description: test
handlers:
    h:
        run: /bin/true
        args: []
paths:
    "/usr/x": {{handlers: [h]}}
"""


def corpus_trigger_files(corpus: Path) -> list[Path]:
    return [
        *sorted(corpus.glob("recipes/*/*/pkg/trigger.yaml")),
        corpus / "os-tools-data/test/trigger.yml",
    ]


def test_every_corpus_trigger_file_loads(corpus: Path) -> None:
    files = corpus_trigger_files(corpus)
    assert len(files) > 5
    for path in files:
        trigger, _ = load_trigger_file(path)
        assert trigger.paths, path
        for rule in trigger.paths:
            assert all(name in trigger.handlers for name in rule.handlers)


def test_upstream_example_file_has_every_key(corpus: Path) -> None:
    trigger, ignored = load_trigger_file(corpus / "os-tools-data/test/trigger.yml")
    assert trigger.name == "depmod"
    assert trigger.description.startswith("Needlessly verbose")
    assert (trigger.before, trigger.after) == ("some.trigger", "some.trigger")
    assert trigger.inhibitors == Inhibitors(
        paths=("/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_dsa_key"),
        environment=("chroot", "live"),
    )
    assert trigger.handlers["depmod"] == RunHandler(run="/sbin/depmod", args=("-a", "$(version)"))
    assert trigger.handlers["ssh_keygen"].run == "/usr/bin/ssh-keygen"  # type: ignore[union-attr]
    (rule,) = trigger.paths
    assert rule.pattern == Pattern("/usr/lib/modules/(version:*)/kernel")
    assert rule.handlers == ("depmod",)
    assert rule.kind is FileKind.DIRECTORY
    assert ignored == ("needs",)


def test_kmod_trigger_from_the_corpus(corpus: Path) -> None:
    trigger, ignored = load_trigger_file(corpus / "recipes/k/kmod/pkg/trigger.yaml")
    assert trigger.name == "depmod"
    assert trigger.handlers == {
        "depmod": RunHandler(run="/usr/sbin/depmod", args=("-a", "$(version)"))
    }
    assert [rule.pattern.text for rule in trigger.paths] == ["/usr/lib/modules/(version:*)/*"]
    assert ignored == ()


def test_delete_handler_and_defaults() -> None:
    trigger, _ = parse_trigger(
        "name: d\ndescription: x\nhandlers: {rm: {delete: [/usr/a, /usr/b]}}\n"
        "paths: {'/usr/(v:*)': {handlers: [rm], type: symlink}}\n"
    )
    assert trigger.handlers == {"rm": DeleteHandler(delete=("/usr/a", "/usr/b"))}
    assert trigger.before is None and trigger.after is None
    assert trigger.inhibitors == Inhibitors(paths=(), environment=())
    assert trigger.paths[0].kind is FileKind.SYMLINK


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x\nhandlers: {}\npaths: {}\n", "description: Field required"),
        (
            "name: x\ndescription: d\nhandlers: {h: {run: /x}}\npaths: {'/a': {handlers: [h]}}",
            "handlers.h.run.args: Field required",
        ),
        (
            "name: x\ndescription: d\nhandlers: {}\npaths: {'/a': {handlers: [h]}}",
            "missing handler reference in x: h",
        ),
        (
            "name: x\ndescription: d\nhandlers: {h: {delete: []}}\n"
            "paths: {'/a': {handlers: [h], type: regular}}",
            "paths['/a'].type",
        ),
        (
            "name: x\ndescription: d\nhandlers: {h: {delete: []}}\n"
            "paths: {'/(v*)': {handlers: [h]}}",
            "invalid pattern '/(v*)' at position 3",
        ),
        (
            "name: x\ndescription: d\nhandlers: {h: {delete: [], run: /x}}\npaths: {}",
            "handlers.h.delete.run: Extra inputs are not permitted",
        ),
        (
            "name: x\ndescription: d\ninhibitors: {paths: []}\nhandlers: {}\npaths: {}",
            "inhibitors.environment: Field required",
        ),
        (
            "name: x\ndescription: d\nhandlers: {h: {run: /x, args: [1]}}\npaths: {}",
            "handlers.h.run.args.0",
        ),
        ("- a list", "must be a YAML mapping"),
        ("name: [", "invalid YAML"),
        ("name: x\nname: y\n", "invalid YAML"),
    ],
)
def test_broken_text_raises_naming_source_and_problem(text: str, problem: str) -> None:
    with pytest.raises(TriggerLoadError) as info:
        parse_trigger(text, "pkg/trigger.yaml")
    assert str(info.value).startswith("pkg/trigger.yaml: ")
    assert problem in info.value.problem


def install(root: Path, relative: str, text: str) -> Path:
    path = trigger_directory(root) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_scopes_load_their_own_directory(tmp_path: Path) -> None:
    install(tmp_path, "tx.d/b.yaml", VALID.format(name="b"))
    install(tmp_path, "tx.d/a.yaml", VALID.format(name="a"))
    install(tmp_path, "tx.yaml", VALID.format(name="single"))
    install(tmp_path, "sys.d/s.yaml", VALID.format(name="s"))

    tx = load_triggers(tmp_path, Scope.TRANSACTION)
    assert [t.name for t in tx.triggers] == ["single", "a", "b"]
    assert tx.warnings == ()
    sys = load_triggers(tmp_path, Scope.SYSTEM)
    assert [t.name for t in sys.triggers] == ["s"]


def test_missing_directory_loads_nothing(tmp_path: Path) -> None:
    result = load_triggers(tmp_path, Scope.SYSTEM)
    assert result.triggers == () and result.warnings == ()


def test_broken_files_are_skipped_with_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Spec §4 scenarios 22 and 23, except that we report what upstream skips silently, and a
    # dangling handler reference skips its file instead of aborting the whole phase.
    good = install(tmp_path, "tx.d/good.yaml", VALID.format(name="good"))
    yml = install(tmp_path, "tx.d/a.yml", VALID.format(name="yml"))
    no_description = install(tmp_path, "tx.d/nodesc.yaml", "name: n\nhandlers: {}\npaths: {}\n")
    no_args = install(
        tmp_path,
        "tx.d/noargs.yaml",
        "name: m\ndescription: d\nhandlers: {h: {run: /x}}\npaths: {'/a': {handlers: [h]}}\n",
    )
    dangling = install(
        tmp_path,
        "tx.d/dangling.yaml",
        "name: k\ndescription: d\nhandlers: {}\npaths: {'/a': {handlers: [h]}}\n",
    )
    duplicate = install(tmp_path, "tx.d/zz-dup.yaml", VALID.format(name="good"))
    unreadable = install(tmp_path, "tx.d/binary.yaml", "")
    unreadable.write_bytes(b"\xff\xfe\x00")
    (trigger_directory(tmp_path) / "tx.d/dir.yaml").mkdir()

    with caplog.at_level(logging.WARNING, logger="moss_core.triggers"):
        result = load_triggers(tmp_path, Scope.TRANSACTION)

    assert [t.name for t in result.triggers] == ["good"]
    by_path = {warning.path: warning.message for warning in result.warnings}
    assert set(by_path) == {
        yml,
        no_description,
        no_args,
        dangling,
        duplicate,
        unreadable,
        trigger_directory(tmp_path) / "tx.d/dir.yaml",
    }
    assert "ending in .yaml" in by_path[yml]
    assert "description: Field required" in by_path[no_description]
    assert "args: Field required" in by_path[no_args]
    assert "missing handler reference in k: h" in by_path[dangling]
    assert f"already defined by {good}" in by_path[duplicate]
    assert "cannot read" in by_path[unreadable]
    assert all(message.startswith("skipped: ") for message in by_path.values())
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == len(result.warnings)
    for warning in result.warnings:
        assert any(str(warning) in message for message in logged)


def test_unknown_keys_load_with_a_warning(tmp_path: Path) -> None:
    path = install(tmp_path, "sys.d/x.yaml", VALID.format(name="x") + "needs: other\n")
    result = load_triggers(tmp_path, Scope.SYSTEM)
    assert [t.name for t in result.triggers] == ["x"]
    assert [(w.path, w.message) for w in result.warnings] == [(path, "unknown key 'needs' ignored")]

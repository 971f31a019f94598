"""Planning (spec §3.3, scenarios 14-19, 22, 25): matching, substitution, dedup, filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from moss_core.triggers import (
    Conditions,
    DeleteCommand,
    FileKind,
    Inhibited,
    Invocation,
    RunCommand,
    TriggerCycleError,
    TriggerError,
    load_trigger_file,
    plan_triggers,
    substitute,
)

from .helpers import files, make_trigger


def kernel_tree(versions: list[str], per_version: int) -> dict[str, FileKind]:
    paths = [
        f"/usr/lib/modules/{v}/kernel/drivers/mod{i}.ko.zst"
        for v in versions
        for i in range(per_version - 1)
    ]
    paths += [f"/usr/lib/modules/{v}/modules.dep" for v in versions]
    return files(*paths, "/usr/bin/bash")


def commands(plan_invocations: tuple[Invocation, ...]) -> list[str]:
    return [str(invocation.command) for invocation in plan_invocations]


def test_real_kmod_trigger_once_per_kernel_version(corpus: Path) -> None:
    # Scenario 14: two kernels with 3,000 files each give exactly two depmod calls, in order.
    kmod, _ = load_trigger_file(corpus / "recipes/k/kmod/pkg/trigger.yaml")
    plan = plan_triggers([kmod], kernel_tree(["6.2.0", "6.1.0"], 3000))
    assert plan.invocations == (
        Invocation("depmod", RunCommand("/usr/sbin/depmod", ("-a", "6.1.0"))),
        Invocation("depmod", RunCommand("/usr/sbin/depmod", ("-a", "6.2.0"))),
    )
    assert plan.inhibited == ()


def test_real_fontconfig_trigger_runs_once_for_three_patterns(corpus: Path) -> None:
    # Scenario 15.
    fonts, _ = load_trigger_file(corpus / "recipes/f/fontconfig/pkg/trigger.yaml")
    tree = files(
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/misc/x.pcf",
        "/usr/share/fontconfig/conf.avail/10-hinting.conf",
        "/usr/share/fontconfig/conf.default/10-hinting.conf",
    )
    assert commands(plan_triggers([fonts], tree).invocations) == ["/usr/bin/fc-cache"]


def test_real_texinfo_like_substitution_scenario_25() -> None:
    trigger = make_trigger(
        "info",
        paths={"/usr/share/info/(item:*.info*)": {"handlers": ["h"]}},
        handlers={"h": {"run": "install-info", "args": ["/usr/share/info/$(item)", "$(other)"]}},
    )
    plan = plan_triggers([trigger], files("/usr/share/info/gcc.info", "/usr/share/info/dir"))
    assert [i.command for i in plan.invocations] == [
        RunCommand("install-info", ("/usr/share/info/gcc.info", "$(other)"))
    ]


def test_substitution_covers_run_and_delete() -> None:
    trigger = make_trigger(
        "subst",
        paths={"/usr/(tool:*)/(name:*)": {"handlers": ["run", "rm"]}},
        handlers={
            "run": {"run": "/usr/$(tool)/helper", "args": ["$(name)", "$(name)-$(tool)"]},
            "rm": {"delete": ["/var/cache/$(name)"]},
        },
    )
    plan = plan_triggers([trigger], files("/usr/bin/x"))
    assert [i.command for i in plan.invocations] == [
        RunCommand("/usr/bin/helper", ("x", "x-bin")),
        DeleteCommand(("/var/cache/x",)),
    ]


def test_substitute_leaves_unknown_variables() -> None:
    assert substitute("$(a)/$(b)/$(a", {"a": "1"}) == "1/$(b)/$(a"


def test_commands_are_sorted_run_before_delete_then_by_run_and_args() -> None:
    trigger = make_trigger(
        "sorted",
        paths={"/usr/(v:*)": {"handlers": ["z", "a", "rm"]}},
        handlers={
            "z": {"run": "/z", "args": ["$(v)"]},
            "a": {"run": "/a", "args": ["$(v)", "x"]},
            "rm": {"delete": ["/d/$(v)"]},
        },
    )
    plan = plan_triggers([trigger], {"/usr/2": FileKind.REGULAR, "/usr/10": FileKind.REGULAR})
    assert commands(plan.invocations) == [
        "/a 10 x",
        "/a 2 x",
        "/z 10",
        "/z 2",
        "delete /d/10",
        "delete /d/2",
    ]


def test_nothing_matches_nothing_planned() -> None:
    plan = plan_triggers([make_trigger("idle", paths={"/opt/*": {"handlers": ["h"]}})], files())
    assert plan.invocations == () and plan.inhibited == ()


def test_the_whole_tree_is_matched_not_a_change_set() -> None:
    # Scenario 16: installing an unrelated package leaves the planned work unchanged.
    kmod = make_trigger(
        "depmod",
        paths={"/usr/lib/modules/(version:*)/*": {"handlers": ["h"]}},
        handlers={"h": {"run": "/usr/sbin/depmod", "args": ["-a", "$(version)"]}},
    )
    before = kernel_tree(["6.1.0"], 3)
    after = {**before, **files("/usr/share/doc/nano/README")}
    assert plan_triggers([kmod], before) == plan_triggers([kmod], after)
    assert len(plan_triggers([kmod], after).invocations) == 1


def test_type_filter_is_honoured() -> None:
    # Scenario 18 describes upstream ignoring `type`; we honour it (a deliberate deviation).
    trigger = make_trigger(
        "dirs",
        paths={"/usr/lib/(v:*)": {"handlers": ["h"], "type": "directory"}},
        handlers={"h": {"run": "/x", "args": ["$(v)"]}},
    )
    tree = {
        "/usr/lib/file": FileKind.REGULAR,
        "/usr/lib/dir": FileKind.DIRECTORY,
        "/usr/lib/link": FileKind.SYMLINK,
    }
    assert commands(plan_triggers([trigger], tree).invocations) == ["/x dir"]
    only_files = {"/usr/lib/file": FileKind.REGULAR}
    assert plan_triggers([trigger], only_files).invocations == ()


def test_symlink_type_filter() -> None:
    trigger = make_trigger("links", paths={"/usr/lib/*": {"handlers": ["h"], "type": "symlink"}})
    tree = {"/usr/lib/dir": FileKind.DIRECTORY, "/usr/lib/link": FileKind.SYMLINK}
    assert commands(plan_triggers([trigger], tree).invocations) == ["/bin/links"]
    assert plan_triggers([trigger], {"/usr/lib/dir": FileKind.DIRECTORY}).invocations == ()


INHIBITED = {"paths": ["/etc/x"], "environment": ["chroot"]}


def test_inhibitor_path_in_conditions_holds_trigger_back() -> None:
    # Scenario 17 describes upstream ignoring inhibitors; we honour them (deliberate deviation).
    trigger = make_trigger("ssh", inhibitors=INHIBITED)
    tree = files("/usr/bin/sshd")
    plan = plan_triggers([trigger], tree, Conditions(existing_paths=frozenset({"/etc/x"})))
    assert plan.invocations == ()
    assert plan.inhibited == (Inhibited("ssh", "inhibited by existing path /etc/x"),)


def test_inhibitor_path_in_tree_holds_trigger_back() -> None:
    trigger = make_trigger("cache", inhibitors={"paths": ["/usr/lib/cache"], "environment": []})
    plan = plan_triggers([trigger], files("/usr/lib/cache"))
    assert plan.invocations == ()
    assert [i.trigger for i in plan.inhibited] == ["cache"]


def test_inhibitor_environment_holds_trigger_back() -> None:
    trigger = make_trigger("ssh", inhibitors=INHIBITED)
    plan = plan_triggers(
        [trigger], files("/usr/bin/sshd"), Conditions(environment=frozenset({"chroot"}))
    )
    assert plan.invocations == ()
    assert plan.inhibited == (Inhibited("ssh", "inhibited in environment chroot"),)


def test_inhibitors_that_do_not_apply_let_trigger_run() -> None:
    trigger = make_trigger("ssh", inhibitors=INHIBITED)
    conditions = Conditions(
        environment=frozenset({"live-ish"}), existing_paths=frozenset({"/etc/y"})
    )
    plan = plan_triggers([trigger], files("/usr/bin/sshd"), conditions)
    assert commands(plan.invocations) == ["/bin/ssh"]
    assert plan.inhibited == ()


def test_inhibited_trigger_that_would_not_fire_is_not_reported() -> None:
    trigger = make_trigger("ssh", paths={"/opt/*": {"handlers": ["h"]}}, inhibitors=INHIBITED)
    plan = plan_triggers(
        [trigger], files("/usr/bin/x"), Conditions(environment=frozenset({"chroot"}))
    )
    assert plan.inhibited == ()


def test_triggers_are_ordered_scenario_19() -> None:
    triggers = [make_trigger("b", after="a"), make_trigger("a"), make_trigger("c")]
    plan = plan_triggers(triggers, files("/usr/x"))
    assert [i.trigger for i in plan.invocations] == ["c", "a", "b"]


def test_cycle_between_fired_triggers_is_an_error() -> None:
    triggers = [make_trigger("a", after="b"), make_trigger("b", after="a")]
    with pytest.raises(TriggerCycleError):
        plan_triggers(triggers, files("/usr/x"))


def test_no_dedup_across_triggers() -> None:
    same = {"h": {"run": "/usr/sbin/ldconfig", "args": []}}
    triggers = [make_trigger("one", handlers=same), make_trigger("two", handlers=same)]
    plan = plan_triggers(triggers, files("/usr/lib/libc.so.6"))
    assert [i.trigger for i in plan.invocations] == ["two", "one"]


def test_duplicate_trigger_names_are_rejected() -> None:
    with pytest.raises(TriggerError, match="two triggers are named 'a'"):
        plan_triggers([make_trigger("a"), make_trigger("a")], files("/usr/x"))

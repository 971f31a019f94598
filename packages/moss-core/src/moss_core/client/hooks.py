"""Running a state's triggers: transaction triggers isolated in staging, system ones on the root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from moss_core.client.report import Reporter
from moss_core.container.isolated import IsolatedRunner
from moss_core.container.limits import Limits
from moss_core.triggers import (
    Conditions,
    Scope,
    TriggerRunner,
    execute_plan,
    load_triggers,
    plan_triggers,
)
from moss_core.vfs import Tree


def run_triggers(
    scope: Scope,
    tree_root: Path,
    tree: Callable[[], Tree],
    runner: TriggerRunner,
    reporter: Reporter,
) -> None:
    """Plan `scope`'s triggers over every path of the state's tree and run them; the first
    failure aborts. `tree` is only asked for when there are triggers to plan."""
    loaded = load_triggers(tree_root, scope)
    for warning in loaded.warnings:
        reporter.warn(str(warning))
    if not loaded.triggers:
        return
    plan = plan_triggers(loaded.triggers, tree().trigger_paths(), Conditions())
    if not plan.invocations:
        return
    reporter.info(f"Running {'transaction' if scope is Scope.TRANSACTION else 'system'} triggers")
    for invocation in plan.invocations:
        reporter.detail(f"trigger {invocation.trigger}: {invocation.command}")
    execute_plan(plan, runner)


def transaction_runner(
    isolation: Path, staging_usr: Path, etc: Path, *, timeout: float, limits: Limits
) -> TriggerRunner:
    """Handlers see the new `/usr` read-write, the system's `/etc` read-only, and no network;
    each is killed after `timeout` seconds or on exceeding `limits`."""
    return IsolatedRunner(
        isolation, usr=staging_usr, etc=etc, etc_writable=False, timeout=timeout, limits=limits
    )


def system_runner(
    isolation: Path, usr: Path, etc: Path, *, timeout: float, limits: Limits
) -> TriggerRunner:
    return IsolatedRunner(
        isolation, usr=usr, etc=etc, etc_writable=True, timeout=timeout, limits=limits
    )

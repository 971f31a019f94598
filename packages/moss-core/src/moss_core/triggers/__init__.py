"""moss triggers: load trigger files, plan the commands a tree calls for, and run them.

The planner is pure (`plan_triggers`); loading (`load_triggers`), scanning (`scan_tree`,
`probe_conditions`) and execution (`execute_plan` with a `TriggerRunner`) do the I/O. Each
name loads on first use: the trigger models need pydantic, which a transaction with no trigger
file to load (and every read-only command) never imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stone._lazy import lazy_attributes

if TYPE_CHECKING:
    from moss_core.triggers.commands import (
        Command,
        DeleteCommand,
        Inhibited,
        Invocation,
        Plan,
        RunCommand,
    )
    from moss_core.triggers.errors import (
        HandlerKilled,
        TriggerCycleError,
        TriggerError,
        TriggerLoadError,
        TriggerRunError,
        UnsafePathError,
    )
    from moss_core.triggers.files import (
        Scope,
        trigger_directory,
        trigger_files,
    )
    from moss_core.triggers.loader import (
        LoadResult,
        LoadWarning,
        load_trigger_file,
        load_trigger_files,
        load_triggers,
        parse_trigger,
    )
    from moss_core.triggers.model import (
        DeleteHandler,
        FileKind,
        Handler,
        Inhibitors,
        PathRule,
        RunHandler,
        Trigger,
    )
    from moss_core.triggers.order import (
        order_triggers,
    )
    from moss_core.triggers.plan import (
        Conditions,
        expand,
        plan_triggers,
        substitute,
    )
    from moss_core.triggers.run import (
        CommandResult,
        PlainRunner,
        TriggerRunner,
        execute_plan,
    )
    from moss_core.triggers.scan import (
        probe_conditions,
        scan_tree,
    )

__getattr__ = lazy_attributes(
    __name__,
    {
        "Command": "moss_core.triggers.commands",
        "CommandResult": "moss_core.triggers.run",
        "Conditions": "moss_core.triggers.plan",
        "DeleteCommand": "moss_core.triggers.commands",
        "DeleteHandler": "moss_core.triggers.model",
        "FileKind": "moss_core.triggers.model",
        "Handler": "moss_core.triggers.model",
        "HandlerKilled": "moss_core.triggers.errors",
        "Inhibited": "moss_core.triggers.commands",
        "Inhibitors": "moss_core.triggers.model",
        "Invocation": "moss_core.triggers.commands",
        "LoadResult": "moss_core.triggers.loader",
        "LoadWarning": "moss_core.triggers.loader",
        "PathRule": "moss_core.triggers.model",
        "PlainRunner": "moss_core.triggers.run",
        "Plan": "moss_core.triggers.commands",
        "RunCommand": "moss_core.triggers.commands",
        "RunHandler": "moss_core.triggers.model",
        "Scope": "moss_core.triggers.files",
        "Trigger": "moss_core.triggers.model",
        "TriggerCycleError": "moss_core.triggers.errors",
        "TriggerError": "moss_core.triggers.errors",
        "TriggerLoadError": "moss_core.triggers.errors",
        "TriggerRunError": "moss_core.triggers.errors",
        "TriggerRunner": "moss_core.triggers.run",
        "UnsafePathError": "moss_core.triggers.errors",
        "execute_plan": "moss_core.triggers.run",
        "expand": "moss_core.triggers.plan",
        "load_trigger_file": "moss_core.triggers.loader",
        "load_trigger_files": "moss_core.triggers.loader",
        "load_triggers": "moss_core.triggers.loader",
        "order_triggers": "moss_core.triggers.order",
        "parse_trigger": "moss_core.triggers.loader",
        "plan_triggers": "moss_core.triggers.plan",
        "probe_conditions": "moss_core.triggers.scan",
        "scan_tree": "moss_core.triggers.scan",
        "substitute": "moss_core.triggers.plan",
        "trigger_directory": "moss_core.triggers.files",
        "trigger_files": "moss_core.triggers.files",
    },
)

__all__ = [
    "Command",
    "CommandResult",
    "Conditions",
    "DeleteCommand",
    "DeleteHandler",
    "FileKind",
    "Handler",
    "HandlerKilled",
    "Inhibited",
    "Inhibitors",
    "Invocation",
    "LoadResult",
    "LoadWarning",
    "PathRule",
    "PlainRunner",
    "Plan",
    "RunCommand",
    "RunHandler",
    "Scope",
    "Trigger",
    "TriggerCycleError",
    "TriggerError",
    "TriggerLoadError",
    "TriggerRunError",
    "TriggerRunner",
    "UnsafePathError",
    "execute_plan",
    "expand",
    "load_trigger_file",
    "load_trigger_files",
    "load_triggers",
    "order_triggers",
    "parse_trigger",
    "plan_triggers",
    "probe_conditions",
    "scan_tree",
    "substitute",
    "trigger_directory",
    "trigger_files",
]

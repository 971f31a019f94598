"""moss triggers: load trigger files, plan the commands a tree calls for, and run them.

The planner is pure (`plan_triggers`); loading (`load_triggers`), scanning (`scan_tree`,
`probe_conditions`) and execution (`execute_plan` with a `TriggerRunner`) do the I/O.
"""

from moss_core.triggers.errors import (
    HandlerKilled,
    TriggerCycleError,
    TriggerError,
    TriggerLoadError,
    TriggerRunError,
    UnsafePathError,
)
from moss_core.triggers.loader import (
    LoadResult,
    LoadWarning,
    Scope,
    load_trigger_file,
    load_trigger_files,
    load_triggers,
    parse_trigger,
    trigger_directory,
    trigger_files,
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
from moss_core.triggers.order import order_triggers
from moss_core.triggers.plan import (
    Command,
    Conditions,
    DeleteCommand,
    Inhibited,
    Invocation,
    Plan,
    RunCommand,
    expand,
    plan_triggers,
    substitute,
)
from moss_core.triggers.run import CommandResult, PlainRunner, TriggerRunner, execute_plan
from moss_core.triggers.scan import probe_conditions, scan_tree

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

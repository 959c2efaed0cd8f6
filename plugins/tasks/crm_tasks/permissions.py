"""What the tasks plugin lets users do: its permissions and owned record types (``crm_permissions``).

The names are part of the plugin's public face: roles in configurations
grant them, so renaming one is a breaking change. See the "Permissions"
section of the plugin's documentation page.
"""

from __future__ import annotations

from crm_hookspecs.records import PermissionSpec, RecordTypeSpec

__all__ = ["PERMISSIONS"]

PERMISSIONS: list[PermissionSpec | RecordTypeSpec] = [
    RecordTypeSpec(
        "tasks.task",
        "A task: a follow-up, to-do, reminder or call. Its owner is the user it is assigned to (a user name).",
    ),
    PermissionSpec("tasks.read", "See tasks, to-do lists, checklists and call questions.", record_type="tasks.task"),
    PermissionSpec("tasks.create", "Add tasks (assigned to the user who adds them unless an assignee is given)."),
    PermissionSpec(
        "tasks.edit",
        "Change, reassign, complete and reopen tasks; tick checklists; answer call questions.",
        record_type="tasks.task",
    ),
    PermissionSpec(
        "tasks.delete", "Delete tasks for good, with their checklists and questions.", record_type="tasks.task"
    ),
    PermissionSpec("tasks.rules.read", "See the rules and recurring tasks that make tasks on their own."),
    PermissionSpec(
        "tasks.rules.manage",
        "Define and change recurring tasks and run the rules' jobs by hand (they make tasks for everyone).",
    ),
]

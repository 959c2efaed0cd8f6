"""What the analytics plugin lets users do: its permissions (``crm_permissions``).

The names are part of the plugin's public face: roles in configurations
grant them, so renaming one is a breaking change. See the "Permissions"
section of the plugin's documentation page.
"""

from __future__ import annotations

from crm_hookspecs.records import PermissionSpec, RecordTypeSpec

__all__ = ["PERMISSIONS"]

PERMISSIONS: list[PermissionSpec | RecordTypeSpec] = [
    RecordTypeSpec(
        "analytics.report",
        "A saved custom report (its definition, not its data). Its owner is the user who saved it "
        "(the report's created_by, a user name); a report saved by the system is owned by nobody.",
    ),
    PermissionSpec(
        "analytics.reports.run",
        "Run standard and custom reports, charts and forecasts (over the records the user may read).",
    ),
    PermissionSpec("analytics.reports.export", "Export report results to CSV, JSON or images."),
    PermissionSpec("analytics.reports.create", "Define custom reports."),
    PermissionSpec("analytics.reports.edit", "Change and delete custom reports.", record_type="analytics.report"),
    PermissionSpec("analytics.schedules.edit", "Schedule reports to be mailed, and stop them."),
    PermissionSpec("analytics.schedules.read", "See the scheduled reports, their recipients and deliveries."),
    PermissionSpec("analytics.schedules.send", "Send a scheduled report now, outside its recurrence."),
]

"""What the warehouse plugin lets users do: its permissions and owned record types (``crm_permissions``).

The names are part of the plugin's public face: roles in configurations
grant them, so renaming one is a breaking change. See the "Permissions"
section of the plugin's documentation page.
"""

from __future__ import annotations

from crm_hookspecs.records import PermissionSpec, RecordTypeSpec

__all__ = ["PERMISSIONS"]

PERMISSIONS: list[PermissionSpec | RecordTypeSpec] = [
    RecordTypeSpec(
        "warehouse.sale",
        "A sales record: a request for proposal or quotation, a quote or a sale. Its owner is the seller "
        "responsible for it (the record's owner field, a user name).",
    ),
    PermissionSpec("warehouse.sales.read", "See sales records and their stages.", record_type="warehouse.sale"),
    PermissionSpec("warehouse.sales.create", "Record requests for proposal or quotation, quotes and sales."),
    PermissionSpec(
        "warehouse.sales.edit", "Change sales records and move them through their stages.", record_type="warehouse.sale"
    ),
    PermissionSpec("warehouse.sales.delete", "Delete sales records.", record_type="warehouse.sale"),
    PermissionSpec("warehouse.sales.export", "Export sales records.", record_type="warehouse.sale"),
    PermissionSpec(
        "warehouse.actions.read",
        "See staff actions: notes, calls, meetings and e-mails logged against contacts and sales.",
    ),
    PermissionSpec("warehouse.actions.create", "Log notes, calls, meetings and e-mails."),
    PermissionSpec("warehouse.documents.read", "See and download documents and presentations."),
    PermissionSpec("warehouse.documents.create", "Attach documents and presentations to contacts and sales."),
    PermissionSpec("warehouse.documents.delete", "Remove documents."),
    PermissionSpec("warehouse.history.read", "See a contact's history, timeline and the audit of changes."),
    PermissionSpec(
        "warehouse.events.inspect",
        "See the raw event store: every stored event with its payload, whichever contact or record it concerns, "
        "and the counts per event type.",
    ),
    PermissionSpec("warehouse.admin", "Rebuild the warehouse's projections and check its consistency."),
]

"""What the contacts plugin lets users do: its permissions and owned record types (``crm_permissions``).

The names are part of the plugin's public face: roles in configurations
grant them, so renaming one is a breaking change. See the "Permissions"
section of the plugin's documentation page.
"""

from __future__ import annotations

from crm_hookspecs.records import PermissionSpec, RecordTypeSpec

__all__ = ["PERMISSIONS"]

PERMISSIONS: list[PermissionSpec | RecordTypeSpec] = [
    RecordTypeSpec(
        "contacts.contact",
        "A contact: a current, former or prospective customer. Its owner is the user responsible for it "
        "(the contact's owner field, a user name).",
    ),
    PermissionSpec(
        "contacts.read",
        "See, search and list contacts and their history in the address book.",
        record_type="contacts.contact",
    ),
    PermissionSpec(
        "contacts.create", "Add contacts (they are owned by the user who adds them unless an owner is given)."
    ),
    PermissionSpec(
        "contacts.edit", "Change contacts: their fields, tags, status and owner.", record_type="contacts.contact"
    ),
    PermissionSpec(
        "contacts.delete", "Delete contacts (they can be restored) and restore them.", record_type="contacts.contact"
    ),
    PermissionSpec(
        "contacts.export",
        "Export contacts to CSV or vCard, and a contact's personal data.",
        record_type="contacts.contact",
    ),
    PermissionSpec("contacts.import", "Import contacts from CSV or vCard files."),
    PermissionSpec(
        "contacts.merge", "Find duplicate contacts, merge and unmerge them.", record_type="contacts.contact"
    ),
    PermissionSpec(
        "contacts.erase",
        "Erase a contact's personal data for good (the right to erasure).",
        record_type="contacts.contact",
    ),
    PermissionSpec("contacts.lists.read", "See mailing and distribution lists and who is on them."),
    PermissionSpec(
        "contacts.lists.edit", "Create, change and delete lists; add and remove members; unsubscribe and resubscribe."
    ),
    PermissionSpec("contacts.lists.send", "Send mail to the members of a list."),
    PermissionSpec(
        "contacts.updates.create", "Send customers links to update their own details.", record_type="contacts.contact"
    ),
    PermissionSpec("contacts.updates.review", "Approve or reject the changes customers sent through the web forms."),
]

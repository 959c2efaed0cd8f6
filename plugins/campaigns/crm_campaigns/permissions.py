"""What the campaigns plugin lets users do: its permissions (``crm_permissions``).

The names are part of the plugin's public face: roles in configurations
grant them, so renaming one is a breaking change. See the "Permissions"
section of the plugin's documentation page.

Sending is a manager's action: ``campaigns.send`` matches none of the
patterns of the built-in ``sales``, ``support`` and ``read-only`` roles, and
a send also needs the contacts plugin's ``contacts.lists.send`` and a
``contacts.read`` scope of ``all`` (a send reaches the whole list, whoever
owns its contacts).
"""

from __future__ import annotations

from crm_hookspecs.records import PermissionSpec

__all__ = ["PERMISSIONS", "READ", "CREATE", "EDIT", "SEND"]

READ = "campaigns.read"
CREATE = "campaigns.create"
EDIT = "campaigns.edit"
SEND = "campaigns.send"

PERMISSIONS: list[PermissionSpec] = [
    PermissionSpec(READ, "See campaigns, their content, their sends and counts; preview a campaign."),
    PermissionSpec(CREATE, "Write new campaigns."),
    PermissionSpec(EDIT, "Change campaigns and send a test of one to oneself."),
    PermissionSpec(
        SEND,
        "Send campaigns to a mailing list or segment, now, later or on a recurrence, and cancel sends "
        "(also needs contacts.lists.send and every contact in the contacts.read scope).",
    ),
]

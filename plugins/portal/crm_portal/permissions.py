"""What the portal plugin lets users do: its permissions (``crm_permissions``).

The names are part of the plugin's public face: roles in configurations
grant them, so renaming one is a breaking change. See the "Permissions"
section of the plugin's documentation page.
"""

from __future__ import annotations

from crm_hookspecs.records import PermissionSpec

__all__ = ["PERMISSIONS"]

PERMISSIONS: list[PermissionSpec] = [
    PermissionSpec("portal.links.create", "Make sign-up, update and unsubscribe links for customers."),
    PermissionSpec("portal.submissions.read", "See what customers sent through the portal's forms."),
    PermissionSpec(
        "portal.submissions.create",
        "Send a customer's form on their behalf from Python (unsubscribe, sign up, confirm a sign-up); "
        "the portal's own pages need no permission: they run as the system, authorised by signed links.",
    ),
    PermissionSpec("portal.admin", "Manage the portal's forms, pages and limits."),
]

"""What the surveys plugin lets users do: its permissions (``crm_permissions``).

The names are part of the plugin's public face: roles in configurations
grant them, so renaming one is a breaking change. See the "Permissions"
section of the plugin's documentation page.
"""

from __future__ import annotations

from crm_hookspecs.records import PermissionSpec

__all__ = ["PERMISSIONS"]

PERMISSIONS: list[PermissionSpec] = [
    PermissionSpec("surveys.read", "See surveys and their questions."),
    PermissionSpec("surveys.create", "Build new surveys."),
    PermissionSpec("surveys.edit", "Change, publish and close surveys."),
    PermissionSpec("surveys.delete", "Delete surveys that have no answers."),
    PermissionSpec("surveys.send", "Send surveys by e-mail or print them as letters."),
    PermissionSpec("surveys.answers.read", "See the answers of the contacts the user may read."),
    PermissionSpec("surveys.answers.create", "Enter answers received on paper or by phone."),
    PermissionSpec("surveys.results.run", "Score surveys and see their results (over the contacts the user may read)."),
    PermissionSpec("surveys.results.export", "Export survey answers and results."),
]

"""The desk's demo: a user per built-in role, with one password, and how to sign in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.errors import NotFoundError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "load_demo"]

#: every demo user's password (demo databases only: the demo prints it)
DEMO_PASSWORD = "Desk-demo-2026!"
#: user name -> (display name, role)
DEMO_USERS = {
    "alba": ("Alba Admin", "admin"),
    "marta": ("Marta Manager", "manager"),
    "sergio": ("Sergio Sales", "sales"),
    "sonia": ("Sonia Support", "support"),
    "rita": ("Rita Reader", "read-only"),
}


def load_demo(crm: CRM) -> list[str]:
    """Add the demo users that are missing; return the lines that say how to open the desk and sign in."""
    users = crm.authz.users
    for name, (display_name, role) in DEMO_USERS.items():
        try:
            users.get(name)
        except NotFoundError:
            users.add(
                name, display_name=display_name, email=f"{name}@example.com", roles=[role], password=DEMO_PASSWORD
            )
    url = crm.settings("desk").root_url
    who = ", ".join(f"{name} ({role})" for name, (_display, role) in DEMO_USERS.items())
    return [
        f"run 'crm desk serve' and open {url}/",
        f"  sign in as {who}, each with the password {DEMO_PASSWORD}",
    ]

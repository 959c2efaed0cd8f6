"""Every page of the desk, the contacts and the tasks plugins, opened by a user of each built-in role.

A page answers 200 exactly when the role holds the permission it needs (on the records it shows, which belong
to the sales user, so that the scopes matter too), 403 when it does not, and never a server error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm_desk.testing import DeskClient

PASSWORD = "Correct-horse-42!"
SECRET = "desk-secret-for-the-desk-tests-0123456789"
ROLES = ("admin", "manager", "sales", "support", "read-only")


@pytest.fixture
def office(crm_factory: Callable[..., Any]) -> Any:
    crm = crm_factory(
        plugins=["desk", "contacts", "tasks"],
        settings={"desk": {"base_url": "https://crm.example.com"}},
        core={"secret": SECRET},
        mail={"sender": "CRM <crm@example.com>"},
    )
    for role in ROLES:
        crm.authz.users.add(f"u-{role}", roles=[role], password=PASSWORD, email=f"{role}@example.com")
    contact = crm.plugin("contacts").create(first_name="Lucía", last_name="Martín", owner="u-sales")
    task = crm.plugin("tasks").add("Call Lucía", kind="call", assignee="u-sales", contact_id=contact.id)
    crm.ids = {"contact": contact.id, "task": task.id}
    return crm


def _pages(ids: dict[str, int]) -> dict[str, tuple[str, str]]:
    """URL -> (the permission it needs, the record scope: 'own' when the record is the sales user's)."""
    contact, task = ids["contact"], ids["task"]
    return {
        "/": ("", ""),
        "/account": ("", ""),
        "/search?q=Luc": ("", ""),
        "/contacts/": ("contacts.read", ""),
        f"/contacts/{contact}": ("contacts.read", "record"),
        "/contacts/new": ("contacts.create", ""),
        f"/contacts/{contact}/edit": ("contacts.edit", "record"),
        "/contacts/duplicates": ("contacts.merge", ""),
        "/contacts/review": ("contacts.updates.review", ""),
        "/contacts/lists/": ("contacts.lists.read", ""),
        "/contacts/export?format=csv": ("contacts.export", ""),
        "/contacts/import/": ("contacts.import", ""),
        "/tasks/": ("tasks.read", ""),
        f"/tasks/{task}": ("tasks.read", "record"),
        "/tasks/new": ("tasks.create", ""),
        "/tasks/rules": ("tasks.rules.read", ""),
        "/tasks/recurring": ("tasks.rules.read", ""),
        "/admin/users": ("admin.users", ""),
        "/admin/roles": ("admin.roles", ""),
        "/admin/tokens": ("admin.tokens", ""),
        "/admin/system": ("admin.system", ""),
        "/admin/mail": ("admin.system", ""),
        "/admin/jobs": ("admin.system", ""),
        "/admin/events": ("admin.system", ""),
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_the_pages_its_permissions_allow(office: Any, role: str) -> None:
    desk = DeskClient(office)
    assert desk.sign_in(f"u-{role}", PASSWORD).status_code == 302
    user = office.authz.users.get(f"u-{role}")
    wrong = []
    for url, (permission, scope) in _pages(office.ids).items():
        answer = desk.get(url)
        with office.as_user(user):
            held = not permission or office.authz.can(permission)
            everyone = not permission or office.authz.scope(permission) == "all"
        if not held:
            expected = 403
        elif scope == "record" and not everyone and role != "sales":
            expected = 404  # the record belongs to u-sales, out of this role's scope: it does not show it exists
        else:
            expected = 200
        if answer.status_code != expected:
            wrong.append(f"{url}: {answer.status_code}, expected {expected} ({permission or 'signed in'})")
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)

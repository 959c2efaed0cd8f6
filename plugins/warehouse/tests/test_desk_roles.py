"""Every warehouse desk page, opened by a user of each built-in role (as the desk's test_roles_pages does).

A page answers 200 exactly when the role holds the permission it needs (on
records that belong to the sales user, so that the scopes matter too), 404
when the record is out of the role's scope, 403 when the role lacks the
permission, and never a server error. The same for the forms' POSTs.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("crm_desk")

from crm_desk.testing import DeskClient  # noqa: E402

PASSWORD = "Correct-horse-42!"
ROLES = ("admin", "manager", "sales", "support", "read-only")


@pytest.fixture
def office(crm_factory: Callable[..., Any], tmp_path: Path) -> Any:
    crm = crm_factory(
        plugins=["desk", "contacts", "warehouse"],
        settings={"warehouse": {"documents_dir": str(tmp_path)}},
        core={"secret": "warehouse-desk-secret-0123456789-0123456789"},
    )
    for role in ROLES:
        crm.authz.users.add(f"u-{role}", roles=[role], password=PASSWORD, email=f"{role}@example.com")
    contact = crm.plugin("contacts").create(first_name="Lucía", last_name="Martín", owner="u-sales")
    warehouse = crm.plugin("warehouse")
    sale = warehouse.sales.add("rfp", contact.id, title="Offer", owner="u-sales")
    document = warehouse.documents.attach(io.BytesIO(b"hello"), contact_id=contact.id, name="a.txt")
    crm.ids = {"contact": contact.id, "sale": sale.id, "document": document.id}
    return crm


def _pages(ids: dict[str, int]) -> dict[str, tuple[str, str, str]]:
    """URL -> (the permission it needs, 'record' when it shows the sales user's record, and its record's scope)."""
    contact, sale, document = ids["contact"], ids["sale"], ids["document"]
    return {
        "/warehouse/pipeline": ("warehouse.sales.read", "", ""),
        "/warehouse/sales/": ("warehouse.sales.read", "", ""),
        "/warehouse/sales/new": ("warehouse.sales.create", "", ""),
        f"/warehouse/sales/{sale}": ("warehouse.sales.read", "record", "warehouse.sales.read"),
        f"/warehouse/sales/{sale}/edit": ("warehouse.sales.edit", "record", "warehouse.sales.edit"),
        f"/warehouse/sales/{sale}/close?outcome=lost": ("warehouse.sales.edit", "record", "warehouse.sales.edit"),
        f"/warehouse/contacts/{contact}/timeline": ("warehouse.history.read", "record", "contacts.read"),
        f"/warehouse/contacts/{contact}/as-of": ("warehouse.history.read", "record", "contacts.read"),
        f"/warehouse/contacts/{contact}/log": ("warehouse.actions.create", "record", "contacts.read"),
        f"/warehouse/documents/{document}": ("warehouse.documents.read", "record", "contacts.read"),
    }


def _expected(crm: Any, user: Any, role: str, permission: str, record: str, scope_of: str) -> int:
    with crm.as_user(user):
        if not crm.authz.can(permission):
            return 403
        if record and role != "sales" and crm.authz.scope(scope_of) != "all":
            return 404  # the record is u-sales's, out of this role's scope: it does not show it exists
        if record and scope_of != permission and not crm.authz.can(scope_of):
            return 403
    return 200


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_the_pages_its_permissions_allow(office: Any, role: str) -> None:
    desk = DeskClient(office)
    assert desk.sign_in(f"u-{role}", PASSWORD).status_code == 302
    user = office.authz.users.get(f"u-{role}")
    wrong = []
    for url, (permission, record, scope_of) in _pages(office.ids).items():
        answer = desk.get(url)
        expected = _expected(office, user, role, permission, record, scope_of)
        if answer.status_code != expected:
            wrong.append(f"{url}: {answer.status_code}, expected {expected} ({permission})")
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_send_exactly_the_forms_its_permissions_allow(office: Any, role: str) -> None:
    ids = office.ids
    desk = DeskClient(office)
    assert desk.sign_in(f"u-{role}", PASSWORD).status_code == 302
    user = office.authz.users.get(f"u-{role}")
    forms = {
        f"/warehouse/sales/{ids['sale']}/stage": (
            {"stage": "qualified"},
            "warehouse.sales.edit",
            "warehouse.sales.edit",
        ),
        f"/warehouse/contacts/{ids['contact']}/log": (
            {"kind": "call", "subject": "Called"},
            "warehouse.actions.create",
            "contacts.read",
        ),
    }
    wrong = []
    for url, (data, permission, scope_of) in forms.items():
        desk.get("/")
        answer = desk.post(url, data)
        expected = _expected(office, user, role, permission, "record", scope_of)
        expected = 303 if expected == 200 else expected
        if answer.status_code != expected:
            wrong.append(f"POST {url}: {answer.status_code}, expected {expected} ({permission})")
    assert not wrong, f"role {role}:\n" + "\n".join(wrong)

"""GDPR: export and erasure across plugins, through the contract's hooks."""

from __future__ import annotations

import pytest

from crm_core.errors import NotFoundError, ValidationError


def test_export_gathers_every_plugin(contacts_app, crm_plugin):
    def crm_export_personal_data(crm, contact_id):
        return {"notes": [f"note about {contact_id}"]}

    app = contacts_app(crm_plugin("probe", crm_export_personal_data=crm_export_personal_data))
    book = app.plugin("contacts")
    c = book.create(first_name="Ana", email="ana@example.com")
    book.create_list("news")
    book.add_to_list("news", [c.id])
    data = book.export_personal_data(c.id)
    assert data["contact_id"] == c.id
    assert data["plugins"]["probe"] == {"notes": [f"note about {c.id}"]}
    contact = data["plugins"]["contacts"]["contact"]
    assert contact["emails"][0]["address"] == "ana@example.com"
    assert data["plugins"]["contacts"]["mailing_lists"][0]["list"] == "news"
    with pytest.raises(NotFoundError):
        book.export_personal_data(999)


def test_erase_anonymises_everywhere_and_records_only_that(contacts_app, crm_plugin, crm_recorder):
    erased = []

    def crm_erase_personal_data(crm, contact_id):
        erased.append(contact_id)
        return 3

    app = contacts_app(crm_plugin("probe", crm_erase_personal_data=crm_erase_personal_data), ("recorder", crm_recorder))
    book = app.plugin("contacts")
    c = book.create(
        first_name="Ana",
        last_name="Ruiz",
        email="ana@example.com",
        phone="+34612345678",
        notes="likes tea",
        tags=["vip"],
    )
    counts = book.erase(c.id, actor="dpo")
    assert counts["probe"] == 3 and counts["contacts"] >= 4
    assert erased == [c.id]
    after = book.get(c.id)
    assert (after.first_name, after.last_name, after.notes, after.emails, after.phones, after.tags) == (
        "",
        "",
        None,
        (),
        (),
        (),
    )
    assert after.erased_at is not None and after.do_not_contact and after.deleted_at is not None
    assert book.search(email="ana@example.com", include_deleted=True).total == 0
    event = [e for e in crm_recorder.events if e.type_name == "ContactErased"]
    assert len(event) == 1 and event[0].actor == "dpo"
    assert "ana" not in repr(event[0]).lower()
    with pytest.raises(ValidationError, match="already erased"):
        book.erase(c.id)
    with pytest.raises(ValidationError, match="cannot be restored"):
        book.restore(c.id)


def test_erase_is_all_or_nothing(contacts_app, crm_plugin):
    def crm_erase_personal_data(crm, contact_id):
        raise RuntimeError("probe cannot erase")

    app = contacts_app(crm_plugin("probe", crm_erase_personal_data=crm_erase_personal_data))
    book = app.plugin("contacts")
    c = book.create(first_name="Ana", email="ana@example.com")
    with pytest.raises(RuntimeError):
        book.erase(c.id)
    after = book.get(c.id)
    assert after.first_name == "Ana" and after.email == "ana@example.com" and after.erased_at is None
    assert [e["type"] for e in app.events.recent(5)] == ["ContactCreated"]


def test_the_old_gdpr_module_re_exports_the_personal_data_functions():
    from crm_contacts import gdpr, personal

    assert (gdpr.export_contact, gdpr.erase_contact, gdpr.personal_values) == (
        personal.export,
        personal.erase,
        personal.values,
    )

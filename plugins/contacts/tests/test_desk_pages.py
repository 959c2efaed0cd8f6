"""The contacts pages of the desk: the list in the seller's scope, search, the card, the forms, delete and restore."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_core.errors import ValidationError
from crm_core.testing import statements
from crm_desk.testing import DeskClient, check_catalogs

PASSWORD = "Correct-horse-42!"
SECRET = "desk-secret-for-the-contacts-tests-0123456789"


@pytest.fixture
def office(crm_factory: Callable[..., Any]) -> Any:
    """An app with the desk and contacts: sara and sam sell (own contacts), rita reads, root administers."""
    crm = crm_factory(
        plugins=["desk", "contacts"],
        settings={"contacts": {"default_region": "ES"}, "desk": {"base_url": "https://crm.example.com"}},
        core={"secret": SECRET},
        mail={"sender": "CRM <crm@example.com>"},
    )
    users = crm.authz.users
    users.add("sara", display_name="Sara", roles=["sales"], password=PASSWORD)
    users.add("sam", display_name="Sam", roles=["sales"], password=PASSWORD)
    users.add("root", display_name="Root", roles=["admin"], password=PASSWORD)
    contacts = crm.plugin("contacts")
    acme = contacts.create(kind="organization", display_name="Acme Iberia", owner="sara", status="customer")
    contacts.create(
        first_name="Lucía",
        last_name="Martín",
        email="lucia@acme.example",
        phone="+34 600 111 222",
        owner="sara",
        status="customer",
        region="Madrid",
        organization_id=acme.id,
        tags=["vip"],
        custom={"industry": "retail"},
        addresses=[{"street": "Gran Vía 1", "city": "Madrid", "postal_code": "28013", "country": "ES"}],
    )
    contacts.create(
        first_name="Pedro", last_name="Ruiz", email="pedro@acme.example", owner="sara", organization_id=acme.id
    )
    contacts.create(first_name="Samuel", last_name="Otero", email="samuel@other.example", owner="sam")
    return crm


def signed_in(crm: Any, name: str) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def rows(desk: DeskClient) -> list[str]:
    """The names in the list's first column, in order."""
    return re.findall(r'<td data-label="Name"><a href="/contacts/\d+">([^<]+)</a>', desk.text)


def contact_id(crm: Any, email: str) -> int:
    return crm.plugin("contacts").search(email=email).cards[0].id


def test_the_nav_and_the_list_show_only_the_sellers_own_contacts(office: Any) -> None:
    desk = signed_in(office, "sara")
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/contacts/"' in home and ">Contacts<" in home
    page = desk.get("/contacts/")
    assert page.status_code == 200
    assert "Lucía Martín" in desk.text and "Pedro Ruiz" in desk.text and "Acme Iberia" in desk.text
    assert "Samuel" not in desk.text
    assert "1–3 of 3 contacts" in desk.text
    assert "lucia@acme.example" in desk.text and "+34600111222" in desk.text and "Madrid" in desk.text
    sam = signed_in(office, "sam")
    sam.get("/contacts/")
    assert "Samuel Otero" in sam.text and "Lucía" not in sam.text and "1–1 of 1 contacts" in sam.text


def test_search_and_filters_narrow_the_list_and_show_chips(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/results?q=pedro")
    assert rows(desk) == ["Pedro Ruiz"] and "<html" not in desk.text  # the partial only
    desk.get("/contacts/?q=lucia@acme.example")
    assert rows(desk) == ["Lucía Martín"] and 'id="results"' in desk.text
    desk.get("/contacts/?q=samuel")  # sam's contact: not found by sara
    assert "No contact matches these filters" in desk.text and "Samuel" not in desk.text
    desk.get("/contacts/?status=customer&tag=vip")
    assert rows(desk) == ["Lucía Martín"]
    assert "Status: customer" in desk.text and 'href="/contacts/?tag=vip"' in desk.text  # the chip removes its filter
    desk.get("/contacts/?country=Narnia")
    assert desk.page.status_code == 200 and 'role="alert"' in desk.text and "country" in desk.text


def test_sorting_and_paging(office: Any) -> None:
    contacts = office.plugin("contacts")
    for n in range(60):
        contacts.create(first_name=f"Zed{n:02}", last_name="Bulk", owner="sara")
    desk = signed_in(office, "sara")
    desk.get("/contacts/")
    assert "1–50 of 63 contacts" in desk.text and 'rel="next"' in desk.text and 'aria-sort="ascending"' in desk.text
    desk.get("/contacts/?page=2")
    assert "51–63 of 63 contacts" in desk.text and 'rel="prev"' in desk.text
    desk.get("/contacts/?sort=-name")
    assert rows(desk)[0] == "Zed59 Bulk" and 'aria-sort="descending"' in desk.text


def test_a_large_book_is_counted_only_so_far(office: Any, monkeypatch: Any) -> None:
    from crm_contacts.desk import views

    monkeypatch.setattr(views, "COUNT_UP_TO", 20)  # what 10,000 is to a book of a million
    contacts = office.plugin("contacts")
    for n in range(60):
        contacts.create(first_name=f"Zed{n:02}", last_name="Bulk", owner="sara")
    desk = signed_in(office, "sara")
    desk.get("/contacts/")
    assert "1–50 of 51+ contacts" in desk.text and 'rel="next"' in desk.text
    desk.get("/contacts/?page=2")
    assert "51–63 of 63 contacts" in desk.text and 'rel="next"' not in desk.text
    monkeypatch.setattr(views, "SEARCH_COUNT_UP_TO", 10)  # a search counts less far than the list
    desk.get("/contacts/results?q=Bulk")
    assert "1–50 of 51+ contacts" in desk.text


def test_the_empty_list_teaches(crm_factory: Callable[..., Any]) -> None:
    crm = crm_factory(plugins=["desk", "contacts"], core={"secret": SECRET}, mail={"sender": "CRM <crm@example.com>"})
    crm.authz.users.add("sara", roles=["sales"], password=PASSWORD)
    desk = signed_in(crm, "sara")
    desk.get("/contacts/")
    assert "No contacts yet" in desk.text and 'href="/contacts/new"' in desk.text
    assert 'href="/contacts/import/"' not in desk.text  # a seller may not import
    crm.authz.users.add("root", roles=["admin"], password=PASSWORD)
    root = signed_in(crm, "root")
    root.get("/contacts/")
    assert (
        'href="/contacts/import/">Import contacts from a file</a>' in root.text and 'href="/contacts/new"' in root.text
    )


def test_the_card_shows_everything_and_another_sellers_contact_is_404(office: Any) -> None:
    desk = signed_in(office, "sara")
    lucia = contact_id(office, "lucia@acme.example")
    office.plugin("contacts").create_list("newsletter")
    office.plugin("contacts").add_to_list("newsletter", [lucia])
    page = desk.get(f"/contacts/{lucia}")
    assert page.status_code == 200
    for text in (
        "Lucía Martín",
        "lucia@acme.example",
        "+34600111222",
        "Gran Vía 1",
        "28013",
        "Acme Iberia",
        "Pedro Ruiz",
        "vip",
        "industry",
        "retail",
        "newsletter",
        "Customer",
        "Owner: sara",
    ):
        assert text in desk.text, text
    assert desk.get(f"/contacts/{contact_id(office, 'samuel@other.example')}").status_code == 404
    assert desk.get("/contacts/999999").status_code == 404
    assert desk.get(f"/contacts/{contact_id(office, 'samuel@other.example')}/edit").status_code == 404


def test_create_with_a_bad_email_shows_the_error_beside_the_field_and_keeps_what_was_typed(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/new")
    typed = {
        "kind": "person",
        "first_name": "Nuria",
        "last_name": "Vidal",
        "email": "nuria@",
        "phone": "600 333 444",
        "status": "prospect",
        "region": "Norte",
        "tags": "lead, fair",
    }
    page = desk.post("/contacts/new", typed)
    assert page.status_code == 422
    assert re.search(r'id="f-email"[^>]*aria-invalid="true"', desk.text)
    assert 'id="f-email-note"' in desk.text and "e-mail" in desk.text.split('id="f-email-note"')[1][:300]
    for name, value in typed.items():
        if name not in ("kind", "status"):
            assert f'value="{value}"' in desk.text, name
    assert office.plugin("contacts").search("Nuria").total == 0
    typed["email"] = "nuria@example.com"
    page = desk.post("/contacts/new", typed)
    assert page.status_code == 303
    created = office.plugin("contacts").search(email="nuria@example.com").cards[0]
    assert (
        created.owner == "sara"
        and created.tags == ("fair", "lead")
        and page.headers["Location"].endswith(f"/contacts/{created.id}")
    )


def test_a_refused_field_is_explained_in_the_users_language(office: Any) -> None:
    """The contacts API's reasons are Messages: the form shows them in Spanish, the API and the CLI in English."""
    desk = signed_in(office, "sara")
    desk.get("/contacts/new")
    assert desk.post("/language", {"language": "es"}).status_code == 302
    typed = {"kind": "person", "first_name": "Nuria", "email": "nuria@", "status": "prospect"}
    assert desk.post("/contacts/new", typed).status_code == 422
    note = desk.text.split('id="f-email-note"')[1][:300]
    assert "no es una dirección de correo válida" in note and "nuria@" in note
    typed = {"kind": "person", "first_name": "Nuria", "country": "Narnia", "status": "prospect"}
    assert desk.post("/contacts/new", typed).status_code == 422
    assert "no es un país" in desk.text.split('id="f-country-note"')[1][:300]
    with pytest.raises(ValidationError) as refused:
        office.plugin("contacts").create(first_name="Nuria", emails=["nuria@"])
    assert str(refused.value).startswith("contact field 'emails': 'nuria@' is not a valid e-mail address")
    assert (refused.value.field, str(refused.value.reason).split(":")[0]) == (
        "emails",
        "'nuria@' is not a valid e-mail address",
    )


def test_edit_saves_and_status_changes(office: Any) -> None:
    desk = signed_in(office, "sara")
    pedro = contact_id(office, "pedro@acme.example")
    desk.get(f"/contacts/{pedro}/edit")
    assert 'value="Pedro"' in desk.text
    form = {
        "kind": "person",
        "first_name": "Pedro",
        "last_name": "Ruiz Gil",
        "email": "pedro@acme.example",
        "phone": "",
        "status": "prospect",
        "owner": "sara",
        "region": "Sur",
        "country": "es",
        "tags": "",
        "organization_id": "",
        "display_name": "",
        "title": "CFO",
        "notes": "",
    }
    assert desk.post(f"/contacts/{pedro}/edit", form).status_code == 303
    record = office.plugin("contacts").get(pedro)
    assert (record.last_name, record.region, record.country, record.title) == ("Ruiz Gil", "Sur", "ES", "CFO")
    assert record.organization_id is None and record.display_name == "Pedro Ruiz Gil"
    desk.get(f"/contacts/{pedro}")
    assert "Saved." in desk.text
    assert desk.post(f"/contacts/{pedro}/status", {"status": "customer"}).status_code == 303
    assert office.plugin("contacts").get(pedro).status == "customer"


def test_delete_needs_post_with_csrf_and_restore_brings_it_back(office: Any) -> None:
    pedro = contact_id(office, "pedro@acme.example")
    seller = signed_in(office, "sara")  # built-in sales: no contacts.delete
    seller.get(f"/contacts/{pedro}")
    assert f'href="/contacts/{pedro}/delete"' not in seller.text
    assert seller.post(f"/contacts/{pedro}/delete").status_code == 403
    desk = signed_in(office, "root")
    desk.get(f"/contacts/{pedro}")
    assert f'href="/contacts/{pedro}/delete"' in desk.text
    desk.get(f"/contacts/{pedro}/delete")
    assert desk.page.status_code == 200 and "Delete Pedro Ruiz?" in desk.text
    assert office.plugin("contacts").get(pedro).deleted_at is None  # the GET only asks
    assert desk.post(f"/contacts/{pedro}/delete", csrf=False).status_code == 403
    assert office.plugin("contacts").get(pedro).deleted_at is None
    desk.get(f"/contacts/{pedro}/delete")
    assert desk.post(f"/contacts/{pedro}/delete").status_code == 303
    assert office.plugin("contacts").get(pedro).deleted_at is not None
    desk.get("/contacts/")
    assert "Pedro Ruiz" not in rows(desk)
    desk.get(f"/contacts/{pedro}")
    assert "Restore" in desk.text
    assert desk.post(f"/contacts/{pedro}/restore").status_code == 303
    assert office.plugin("contacts").get(pedro).deleted_at is None


def test_the_list_runs_as_many_statements_for_5_rows_as_for_50(office: Any) -> None:
    contacts = office.plugin("contacts")
    for n in range(5):
        contacts.create(first_name=f"Few{n}", last_name="Tag", owner="sara", email=f"few{n}@example.com", tags=["few"])
    desk = signed_in(office, "sara")
    desk.get("/contacts/?tag=few")  # warm: the session's first read
    with statements(office) as few:
        desk.get("/contacts/?tag=few&status=prospect")
    assert "1–5 of 5 contacts" in desk.text
    for n in range(45):
        contacts.create(
            first_name=f"Few{n}b", last_name="Tag", owner="sara", email=f"fewb{n}@example.com", tags=["few"]
        )
    with statements(office) as many:
        desk.get("/contacts/?tag=few&status=prospect")
    assert "1–50 of 50 contacts" in desk.text or "of 50 contacts" in desk.text
    assert len(many) <= len(few) + 1, (few, many)  # a full first page adds one COUNT, never a query per row


def test_the_home_widget_lists_recently_changed_customers(office: Any) -> None:
    desk = signed_in(office, "sara")
    home = desk.get("/").get_data(as_text=True)
    assert "Recently changed customers" in home and "Lucía Martín" in home and "Samuel" not in home


def test_spanish_pages(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/")
    desk.post("/language", {"language": "es", "next": "/contacts/"})
    desk.get("/contacts/")
    assert "Contactos" in desk.text and "Añadir un contacto" in desk.text


# -- duplicates, merge and unmerge ------------------------------------------------


def with_role(crm: Any, *names: str, permissions: tuple[str, ...]) -> None:
    """Give ``names`` a custom role "clerk" with ``permissions`` on their own contacts (sales has neither merge nor review)."""
    crm.authz.roles.add("clerk", permissions=list(permissions), scopes={"contacts.contact": "own"})
    for name in names:
        crm.authz.users.edit(name, add_roles=["clerk"])


MERGE = ("contacts.read", "contacts.edit", "contacts.merge")


def twins(crm: Any) -> tuple[int, int]:
    """A second Lucía of sara's, sharing her e-mail, with a title and another region: a pair to merge."""
    lucia = contact_id(crm, "lucia@acme.example")
    twin = crm.plugin("contacts").create(
        first_name="Lucia",
        last_name="Martin",
        email="lucia@acme.example",
        phone="+34 600 999 000",
        owner="sara",
        region="Sevilla",
        title="CEO",
        tags=["fair"],
    )
    return lucia, twin.id


def test_the_duplicates_queue_shows_the_sellers_pairs_with_reasons_and_score(office: Any) -> None:
    with_role(office, "sara", "sam", permissions=MERGE)
    lucia, twin = twins(office)
    office.plugin("contacts").create(first_name="Otro", email="samuel@other.example", owner="sam")
    desk = signed_in(office, "sara")
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/contacts/duplicates"' in home and ">Duplicates<" in home
    desk.get("/contacts/")
    assert 'href="/contacts/duplicates"' in desk.text
    assert desk.get("/contacts/duplicates").status_code == 200
    assert "1–1 of 1 pairs" in desk.text and "same e-mail lucia@acme.example" in desk.text and "100 %" in desk.text
    assert f'href="/contacts/merge?survivor={lucia}&amp;merged={twin}"' in desk.text
    assert "Samuel" not in desk.text and "Otro" not in desk.text  # sam's pair is sam's
    sam = signed_in(office, "sam")
    sam.get("/contacts/duplicates")
    assert "Samuel Otero" in sam.text and "Lucía" not in sam.text
    assert desk.post("/language", {"language": "es"}).status_code == 302
    desk.get("/contacts/duplicates")  # the reasons in her language; the CLI and the API keep the English
    assert "mismo correo lucia@acme.example" in desk.text and "same e-mail" not in desk.text
    reasons = [r for pair in office.plugin("contacts").scan_duplicates(10).pairs for r in pair.reasons]
    assert "same e-mail lucia@acme.example" in reasons


def test_the_duplicates_pages_need_contacts_merge(office: Any) -> None:
    lucia, twin = twins(office)
    seller = signed_in(office, "sara")  # built-in sales: no contacts.merge
    assert 'href="/contacts/duplicates"' not in seller.get("/").get_data(as_text=True)
    assert seller.get("/contacts/duplicates").status_code == 403
    assert seller.get(f"/contacts/merge?survivor={lucia}&merged={twin}").status_code == 403
    assert seller.post("/contacts/merge", {"survivor": lucia, "merged": twin, "confirm": "1"}).status_code == 403
    assert office.plugin("contacts").get(twin).deleted_at is None


def test_the_duplicates_queue_runs_as_many_statements_for_2_pairs_as_for_12(office: Any) -> None:
    with_role(office, "sara", permissions=MERGE)
    contacts = office.plugin("contacts")
    for n in range(2):
        for copy in range(2):
            contacts.create(first_name=f"Twin{n}", last_name=f"Copy{copy}", email=f"twin{n}@example.com", owner="sara")
    desk = signed_in(office, "sara")
    desk.get("/contacts/duplicates")  # warm
    with statements(office) as few:
        desk.get("/contacts/duplicates")
    assert "of 2 pairs" in desk.text
    for n in range(2, 12):
        for copy in range(2):
            contacts.create(first_name=f"Twin{n}", last_name=f"Copy{copy}", email=f"twin{n}@example.com", owner="sara")
    with statements(office) as many:
        desk.get("/contacts/duplicates")
    assert "of 12 pairs" in desk.text
    assert len(many) <= len(few), (few, many)


def test_merge_shows_both_side_by_side_asks_then_merges_with_the_chosen_values(office: Any) -> None:
    with_role(office, "sara", permissions=MERGE)
    lucia, twin = twins(office)
    desk = signed_in(office, "sara")
    desk.get(f"/contacts/merge?survivor={lucia}&merged={twin}")
    assert desk.page.status_code == 200
    assert "Merge Lucia Martin into Lucía Martín" in desk.text and "Madrid" in desk.text and "Sevilla" in desk.text
    # the region differs: a radio per contact, the survivor's ticked; the title only the twin has is kept
    assert re.search(r'name="field_region" value="survivor" checked', desk.text)
    assert re.search(r'name="field_region" value="merged">', desk.text)
    assert 'name="field_title"' not in desk.text and "CEO (not carried over)" in " ".join(desk.text.split()).replace(
        '<span class="muted">', ""
    ).replace("</span>", "")
    assert f'href="/contacts/merge?survivor={twin}&amp;merged={lucia}"' in desk.text  # swap
    desk.post("/contacts/merge", {"survivor": lucia, "merged": twin, "field_region": "merged"})
    assert desk.page.status_code == 200 and "Merge Lucia Martin into Lucía Martín?" in desk.text
    assert "Region: <strong>Sevilla</strong>" in desk.text
    assert office.plugin("contacts").get(twin).deleted_at is None  # asked only
    assert (
        desk.post(
            "/contacts/merge", {"survivor": lucia, "merged": twin, "field_region": "merged", "confirm": "1"}, csrf=False
        ).status_code
        == 403
    )
    assert office.plugin("contacts").get(twin).deleted_at is None
    desk.get(f"/contacts/merge?survivor={lucia}&merged={twin}")
    page = desk.post(
        "/contacts/merge",
        {"survivor": lucia, "merged": twin, "field_region": "merged", "field_display_name": "survivor", "confirm": "1"},
    )
    assert page.status_code == 303 and page.headers["Location"].endswith(f"/contacts/{lucia}")
    survivor = office.plugin("contacts").get(lucia)
    assert survivor.region == "Sevilla" and survivor.display_name == "Lucía Martín"
    assert {p.number for p in survivor.phones} == {"+34600111222", "+34600999000"} and "fair" in survivor.tags
    assert office.plugin("contacts").get(twin).deleted_at is not None
    desk.get(f"/contacts/{lucia}")
    assert "was merged into" in desk.text and "Merged into this contact" in desk.text
    assert f'href="/contacts/{twin}/unmerge"' in desk.text


def test_merge_with_a_bad_choice_shows_a_message_and_keeps_the_choices(office: Any) -> None:
    with_role(office, "sara", permissions=MERGE)
    lucia, twin = twins(office)
    office.plugin("contacts").update(twin, first_name="Lucy")
    desk = signed_in(office, "sara")
    desk.get(f"/contacts/merge?survivor={lucia}&merged={twin}")
    form = {"survivor": lucia, "merged": twin, "field_region": "both", "field_first_name": "merged", "confirm": "1"}
    assert desk.post("/contacts/merge", form).status_code == 422
    assert 'id="f-region-note"' in desk.text and "Choose the value of one of the two contacts." in desk.text
    assert re.search(r'name="field_first_name" value="merged" checked', desk.text)  # kept
    assert office.plugin("contacts").get(twin).deleted_at is None
    # an organization and a person do not merge: the API's message, nothing lost
    acme = office.plugin("contacts").search("Acme Iberia").cards[0].id
    desk.get(f"/contacts/merge?survivor={acme}&merged={twin}")
    assert desk.post("/contacts/merge", {"survivor": acme, "merged": twin, "confirm": "1"}).status_code == 422
    assert 'role="alert"' in desk.text and "only contacts of one kind merge" in desk.text
    assert office.plugin("contacts").get(twin).deleted_at is None


def test_merge_and_unmerge_of_another_sellers_contact_is_404(office: Any) -> None:
    with_role(office, "sara", "sam", permissions=MERGE)
    lucia, twin = twins(office)
    samuel = contact_id(office, "samuel@other.example")
    desk = signed_in(office, "sam")
    assert desk.get(f"/contacts/merge?survivor={lucia}&merged={twin}").status_code == 404
    assert desk.get(f"/contacts/merge?survivor={samuel}&merged={twin}").status_code == 404
    desk.get("/contacts/duplicates")
    assert desk.post("/contacts/merge", {"survivor": samuel, "merged": twin, "confirm": "1"}).status_code == 404
    assert desk.get("/contacts/merge?survivor=x&merged=1").status_code == 404
    office.plugin("contacts").merge(lucia, twin)
    assert desk.get(f"/contacts/{twin}/unmerge").status_code == 404
    assert desk.post(f"/contacts/{twin}/unmerge").status_code == 404
    assert office.plugin("contacts").get(twin).deleted_at is not None


def test_unmerge_from_the_survivors_card_asks_then_undoes(office: Any) -> None:
    with_role(office, "sara", permissions=MERGE)
    lucia, twin = twins(office)
    office.plugin("contacts").merge(lucia, twin, {"region": "merged"})
    seller = signed_in(office, "sam")
    desk = signed_in(office, "sara")
    desk.get(f"/contacts/{lucia}")
    assert "Lucia Martin" in desk.text and f'href="/contacts/{twin}/unmerge"' in desk.text
    desk.get(f"/contacts/{twin}/unmerge")
    assert desk.page.status_code == 200 and "Unmerge Lucia Martin from Lucía Martín?" in desk.text
    assert desk.post(f"/contacts/{twin}/unmerge", csrf=False).status_code == 403
    assert office.plugin("contacts").get(twin).deleted_at is not None
    desk.get(f"/contacts/{twin}/unmerge")
    page = desk.post(f"/contacts/{twin}/unmerge")
    assert page.status_code == 303 and page.headers["Location"].endswith(f"/contacts/{twin}")
    assert office.plugin("contacts").get(twin).deleted_at is None
    assert office.plugin("contacts").get(lucia).region == "Madrid"
    assert desk.get(f"/contacts/{twin}/unmerge").status_code == 404  # nothing left to undo
    desk.get(f"/contacts/{lucia}")
    assert "Merged into this contact" not in desk.text
    assert seller.get(f"/contacts/{twin}/unmerge").status_code == 404  # sam: out of scope


# -- the self-service review queue -------------------------------------------------

REVIEW = ("contacts.read", "contacts.edit", "contacts.updates.review")


def sent(crm: Any, email: str, changes: dict[str, Any]) -> int:
    """A customer's change sent through an update link, queued for review; its id."""
    contacts = crm.plugin("contacts")
    link = contacts.issue_update_link(contact_id(crm, email))
    assert contacts.submit_update(link.token, changes).status == "pending"
    return contacts.pending_updates(contact_id=contact_id(crm, email))[-1].id


def test_the_review_queue_shows_the_diff_and_approve_applies_it(office: Any) -> None:
    with_role(office, "sara", permissions=REVIEW)
    pending = sent(office, "lucia@acme.example", {"first_name": "Lucy", "phones": ["600 222 333"]})
    sent(office, "samuel@other.example", {"first_name": "Sam"})
    desk = signed_in(office, "sara")
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/contacts/review"' in home and ">Customer changes<" in home
    assert desk.get("/contacts/review").status_code == 200
    text = " ".join(desk.text.split())
    assert "<del>Lucía</del>" in text and "<ins>Lucy</ins>" in text and "<ins>+34600222333</ins>" in text
    assert "Samuel" not in text and "Sam<" not in text  # sam's contact: not sara's to review
    assert desk.post(f"/contacts/review/{pending}/approve", csrf=False).status_code == 403
    assert office.plugin("contacts").get(contact_id(office, "lucia@acme.example")).first_name == "Lucía"
    desk.get("/contacts/review")
    page = desk.post(f"/contacts/review/{pending}/approve", {"note": "checked by phone"})
    assert page.status_code == 303 and page.headers["Location"].endswith("/contacts/review")
    record = office.plugin("contacts").get(contact_id(office, "lucia@acme.example"))
    assert record.first_name == "Lucy" and record.phone == "+34600222333"
    assert office.plugin("contacts").pending_update(pending).note == "checked by phone"
    desk.get("/contacts/review")
    assert "was applied" in desk.text and "No change is waiting for review." in desk.text


def test_reject_needs_a_reason_and_keeps_what_was_typed(office: Any) -> None:
    with_role(office, "sara", permissions=REVIEW)
    pending = sent(office, "pedro@acme.example", {"last_name": "Ruiz Gil"})
    desk = signed_in(office, "sara")
    desk.get("/contacts/review")
    assert desk.post(f"/contacts/review/{pending}/reject", {"note": ""}).status_code == 422
    assert re.search(rf'id="f-note-{pending}"[^>]*aria-invalid="true"', desk.text)
    assert "Say why the change is rejected." in desk.text
    assert office.plugin("contacts").pending_update(pending).status == "pending"
    assert desk.post(f"/contacts/review/{pending}/reject", {"note": "x" * 501}).status_code == 422
    assert 'value="' + "x" * 501 + '"' in desk.text and "at most 500 characters" in desk.text
    assert desk.post(f"/contacts/review/{pending}/reject", {"note": "not the same person"}).status_code == 303
    change = office.plugin("contacts").pending_update(pending)
    assert change.status == "rejected" and change.note == "not the same person" and change.reviewed_by == "sara"
    assert office.plugin("contacts").get(contact_id(office, "pedro@acme.example")).last_name == "Ruiz"


def test_the_review_queue_needs_the_permission_and_another_sellers_change_is_404(office: Any) -> None:
    with_role(office, "sam", permissions=REVIEW)
    pending = sent(office, "lucia@acme.example", {"first_name": "Lucy"})
    seller = signed_in(office, "sara")  # built-in sales: no contacts.updates.review
    assert 'href="/contacts/review"' not in seller.get("/").get_data(as_text=True)
    assert seller.get("/contacts/review").status_code == 403
    assert seller.post(f"/contacts/review/{pending}/approve").status_code == 403
    other = signed_in(office, "sam")
    other.get("/contacts/review")
    assert "Lucía" not in other.text
    assert other.post(f"/contacts/review/{pending}/approve").status_code == 404
    assert other.post(f"/contacts/review/{pending}/reject", {"note": "no"}).status_code == 404
    assert other.post("/contacts/review/999999/approve").status_code == 404
    assert office.plugin("contacts").pending_update(pending).status == "pending"


# -- exports -----------------------------------------------------------------------


def test_export_downloads_the_lists_filter_as_csv_and_vcard_in_the_sellers_scope(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/?status=customer&q=luc")
    assert 'href="/contacts/export?format=csv&amp;q=luc&amp;status=customer"' in desk.text
    page = desk.get("/contacts/export?format=csv&status=customer&q=luc")
    assert page.status_code == 200 and page.mimetype == "text/csv"
    assert (
        'filename="contacts.csv"' in page.headers["Content-Disposition"] and page.headers["X-Contacts-Exported"] == "1"
    )
    assert "lucia@acme.example" in desk.text and "pedro@" not in desk.text and len(desk.text.splitlines()) == 2
    page = desk.get("/contacts/export?format=vcard")
    assert page.mimetype == "text/vcard" and desk.text.count("BEGIN:VCARD") == 3
    assert "Samuel" not in desk.text  # sam's contact is not sara's to export


def test_export_with_bad_input_says_so_and_without_the_permission_is_403(office: Any) -> None:
    desk = signed_in(office, "sara")
    page = desk.get("/contacts/export?format=pdf&tag=vip")
    assert page.status_code == 303 and page.headers["Location"].endswith("/contacts/?tag=vip")
    desk.get("/contacts/?tag=vip")
    assert "Choose the export" in desk.text
    page = desk.get("/contacts/export?format=csv&country=Narnia")
    assert page.status_code == 303
    desk.get(page.headers["Location"])
    assert "Nothing was exported" in desk.text and "country" in desk.text
    office.authz.users.add("rita", roles=["read-only"], password=PASSWORD)
    reader = signed_in(office, "rita")
    reader.get("/contacts/")
    assert "/contacts/export" not in reader.text
    assert reader.get("/contacts/export?format=csv").status_code == 403


PLUGIN = Path(__file__).resolve().parents[1]


def test_every_desk_page_string_is_in_the_spanish_catalog_and_compiled() -> None:
    check_catalogs(PLUGIN, PLUGIN / "crm_contacts" / "desk" / "translations")


def test_contacts_without_the_desk_does_not_import_flask() -> None:
    code = "import sys, crm_contacts.plugin, crm_contacts.desk, crm_contacts.api; print('flask' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


# -- personal data (GDPR) ----------------------------------------------------------


def test_the_card_exports_the_personal_data_as_json_in_the_sellers_scope(office: Any) -> None:
    import json

    lucia = contact_id(office, "lucia@acme.example")
    desk = signed_in(office, "sara")
    desk.get(f"/contacts/{lucia}")
    assert f'href="/contacts/{lucia}/personal-data"' in desk.text
    assert f'href="/contacts/{lucia}/erase"' not in desk.text  # sales may not erase
    page = desk.get(f"/contacts/{lucia}/personal-data")
    assert page.status_code == 200 and page.mimetype == "application/json"
    assert f'filename="contact-{lucia}-personal-data.json"' in page.headers["Content-Disposition"]
    assert "lucia@acme.example" in json.dumps(json.loads(desk.text))
    assert desk.get(f"/contacts/{contact_id(office, 'samuel@other.example')}/personal-data").status_code == 404
    office.authz.users.add("rita", roles=["read-only"], password=PASSWORD)
    reader = signed_in(office, "rita")
    reader.get(f"/contacts/{lucia}")
    assert "/personal-data" not in reader.text
    assert reader.get(f"/contacts/{lucia}/personal-data").status_code == 403


def test_erase_asks_for_the_name_then_erases(office: Any) -> None:
    lucia = contact_id(office, "lucia@acme.example")
    seller = signed_in(office, "sara")
    assert seller.get(f"/contacts/{lucia}/erase").status_code == 403
    seller.get(f"/contacts/{lucia}")
    assert seller.post(f"/contacts/{lucia}/erase", {"name": "Lucía Martín"}).status_code == 403
    desk = signed_in(office, "root")
    desk.get(f"/contacts/{lucia}")
    assert f'href="/contacts/{lucia}/erase"' in desk.text
    desk.get(f"/contacts/{lucia}/erase")
    assert desk.page.status_code == 200 and "Erase Lucía Martín for good?" in desk.text
    assert desk.post(f"/contacts/{lucia}/erase", {"name": "Lucia"}).status_code == 422
    assert re.search(r'id="f-name"[^>]*aria-invalid="true"', desk.text) and 'value="Lucia"' in desk.text
    assert "exactly as shown" in desk.text
    assert office.plugin("contacts").get(lucia).erased_at is None
    assert desk.post(f"/contacts/{lucia}/erase", {"name": "Lucía Martín"}, csrf=False).status_code == 403
    assert office.plugin("contacts").get(lucia).erased_at is None
    desk.get(f"/contacts/{lucia}/erase")
    page = desk.post(f"/contacts/{lucia}/erase", {"name": " Lucía  Martín "})
    assert page.status_code == 303 and page.headers["Location"].endswith(f"/contacts/{lucia}")
    record = office.plugin("contacts").get(lucia)
    assert record.erased_at is not None and record.email is None
    desk.get(f"/contacts/{lucia}")
    assert "was erased everywhere" in desk.text and "lucia@acme.example" not in desk.text


def test_erasing_another_sellers_contact_is_404(office: Any) -> None:
    with_role(office, "sam", permissions=("contacts.read", "contacts.erase"))
    lucia = contact_id(office, "lucia@acme.example")
    desk = signed_in(office, "sam")
    assert desk.get(f"/contacts/{lucia}/erase").status_code == 404
    desk.get("/contacts/")
    assert desk.post(f"/contacts/{lucia}/erase", {"name": "Lucía Martín"}).status_code == 404
    assert office.plugin("contacts").get(lucia).erased_at is None

"""The desk's mailing lists and segments: the lists, a list's members, adding and removing, downloads, segments."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import pytest

from crm_core.testing import statements
from crm_desk.testing import DeskClient

PASSWORD = "Correct-horse-42!"
SECRET = "desk-secret-for-the-contacts-tests-0123456789"


@pytest.fixture
def office(crm_factory: Callable[..., Any]) -> Any:
    """sara and sam sell (own contacts; sales may read and edit lists, not send), rita reads, root administers.

    sara has Lucía (a vip customer in Madrid with an address, industry retail) and Pedro; sam has Samuel.
    The list "newsletter" holds Lucía and Samuel; the segment "vip" is sara's tag filter.
    """
    crm = crm_factory(
        plugins=["desk", "contacts"],
        settings={"contacts": {"default_region": "ES"}, "desk": {"base_url": "https://crm.example.com"}},
        core={"secret": SECRET},
        mail={"sender": "CRM <crm@example.com>"},
    )
    users = crm.authz.users
    users.add("sara", display_name="Sara", roles=["sales"], password=PASSWORD)
    users.add("sam", display_name="Sam", roles=["sales"], password=PASSWORD)
    users.add("rita", display_name="Rita", roles=["read-only"], password=PASSWORD)
    users.add("root", display_name="Root", roles=["admin"], password=PASSWORD)
    contacts = crm.plugin("contacts")
    lucia = contacts.create(
        first_name="Lucía",
        last_name="Martín",
        email="lucia@acme.example",
        owner="sara",
        status="customer",
        region="Madrid",
        tags=["vip"],
        custom={"industry": "retail"},
        addresses=[{"street": "Gran Vía 1", "city": "Madrid", "postal_code": "28013", "country": "ES"}],
    )
    contacts.create(first_name="Pedro", last_name="Ruiz", email="pedro@acme.example", owner="sara")
    samuel = contacts.create(first_name="Samuel", last_name="Otero", email="samuel@other.example", owner="sam")
    contacts.create_list("newsletter", "Monthly news")
    contacts.add_to_list("newsletter", [lucia.id, samuel.id])
    contacts.create_segment("vip", {"tag": "vip"})
    return crm


def signed_in(crm: Any, name: str) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def contact_id(crm: Any, email: str) -> int:
    return int(crm.plugin("contacts").search(email=email).cards[0].id)


def list_id(crm: Any, name: str) -> int:
    return next(info.id for info in crm.plugin("contacts").lists() if info.name == name)


def members(crm: Any, name: str) -> list[str]:
    return [m.display_name for m in crm.plugin("contacts").list_members(name)]


def test_the_lists_page_shows_lists_with_counts_of_the_sellers_scope_and_segments(office: Any) -> None:
    desk = signed_in(office, "sara")
    home = desk.get("/").get_data(as_text=True)
    assert 'href="/contacts/lists/"' in home and ">Mailing lists<" in home
    assert desk.get("/contacts/lists/").status_code == 200
    newsletter = list_id(office, "newsletter")
    assert f'href="/contacts/lists/{newsletter}">newsletter</a>' in desk.text and "Monthly news" in desk.text
    assert re.search(r'data-label="Members">1<', desk.text)  # Samuel is sam's: not counted for sara
    assert ">vip</a>" in desk.text and "Tag: vip" in desk.text
    assert 'action="/contacts/lists/new"' in desk.text  # sales may create lists
    reader = signed_in(office, "rita")
    reader.get("/contacts/lists/")
    assert reader.page.status_code == 200 and 'action="/contacts/lists/new"' not in reader.text
    assert re.search(r'data-label="Members">2<', reader.text)  # read-only reads every contact


def test_the_lists_need_contacts_lists_read(office: Any) -> None:
    office.authz.roles.add("reader", permissions=["contacts.read"], scopes={"contacts.contact": "own"})
    office.authz.users.add("nora", roles=["reader"], password=PASSWORD)
    desk = signed_in(office, "nora")
    assert 'href="/contacts/lists/"' not in desk.get("/").get_data(as_text=True)
    assert desk.get("/contacts/lists/").status_code == 403
    assert desk.get(f"/contacts/lists/{list_id(office, 'newsletter')}").status_code == 403
    desk.get("/contacts/")
    assert desk.page.status_code == 200 and "Segments:" not in desk.text and "Add these to a list" not in desk.text


def test_create_a_list_with_csrf_and_errors_beside_the_name(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/lists/")
    assert desk.post("/contacts/lists/new", {"name": "fair"}, csrf=False).status_code == 403
    page = desk.post("/contacts/lists/new", {"name": "newsletter", "description": "again"})
    assert page.status_code == 422 and re.search(r'id="f-name"[^>]*aria-invalid="true"', desk.text)
    assert "already exists" in desk.text and 'value="again"' in desk.text
    page = desk.post("/contacts/lists/new", {"name": "segment:x"})
    assert page.status_code == 422 and "reserved" in desk.text
    page = desk.post("/contacts/lists/new", {"name": "Fair 2026", "description": "met at the fair"})
    assert page.status_code == 303 and page.headers["Location"].endswith(
        f"/contacts/lists/{list_id(office, 'Fair 2026')}"
    )
    reader = signed_in(office, "rita")
    reader.get("/contacts/lists/")
    assert reader.post("/contacts/lists/new", {"name": "mine"}).status_code == 403


def test_a_lists_page_shows_its_members_in_scope_with_their_state(office: Any) -> None:
    contacts = office.plugin("contacts")
    pedro = contact_id(office, "pedro@acme.example")
    contacts.add_to_list("newsletter", [pedro])
    contacts.unsubscribe(pedro, "newsletter")
    desk = signed_in(office, "sara")
    newsletter = list_id(office, "newsletter")
    assert desk.get(f"/contacts/lists/{newsletter}").status_code == 200
    assert "Lucía Martín" in desk.text and "Pedro Ruiz" in desk.text and "Samuel" not in desk.text
    assert "Subscribed" in desk.text and "Unsubscribed" in desk.text
    assert "1 members, 1 unsubscribed." in desk.text and "A mailing reaches 1;" in desk.text
    assert 'href="/contacts/?list=newsletter"' in desk.text
    assert "/download" not in desk.text  # sales may not send
    assert desk.get("/contacts/lists/999999").status_code == 404
    contacts.update(contact_id(office, "lucia@acme.example"), do_not_contact=True)
    desk.get(f"/contacts/lists/{newsletter}")
    assert "Do not contact" in desk.text


def test_a_lists_members_page_runs_as_many_statements_for_2_members_as_for_50(office: Any) -> None:
    contacts = office.plugin("contacts")
    desk = signed_in(office, "sara")
    newsletter = list_id(office, "newsletter")
    desk.get(f"/contacts/lists/{newsletter}")  # warm
    with statements(office) as few:
        desk.get(f"/contacts/lists/{newsletter}")
    ids = [contacts.create(first_name=f"Many{n:02}", owner="sara", email=f"m{n}@example.com").id for n in range(60)]
    contacts.add_to_list("newsletter", ids)
    with statements(office) as many:
        desk.get(f"/contacts/lists/{newsletter}")
    assert desk.text.count('name="contact_id"') == 50 and 'rel="next"' in desk.text
    assert len(many) == len(few), (few, many)
    desk.get(f"/contacts/lists/{newsletter}?page=2")
    assert desk.text.count('name="contact_id"') == 11 and 'rel="prev"' in desk.text


def test_remove_a_member_needs_post_csrf_and_the_contact_in_scope(office: Any) -> None:
    desk = signed_in(office, "sara")
    newsletter = list_id(office, "newsletter")
    lucia = contact_id(office, "lucia@acme.example")
    samuel = contact_id(office, "samuel@other.example")
    desk.get(f"/contacts/lists/{newsletter}")
    url = f"/contacts/lists/{newsletter}/remove"
    assert desk.post(url, {"contact_id": lucia}, csrf=False).status_code == 403
    assert desk.post(url, {"contact_id": samuel}).status_code == 404  # sam's contact
    assert desk.post(url, {"contact_id": "x"}).status_code == 404
    assert members(office, "newsletter") == ["Lucía Martín", "Samuel Otero"]
    assert desk.post(url, {"contact_id": lucia}).status_code == 303
    assert members(office, "newsletter") == ["Samuel Otero"]
    desk.get(f"/contacts/lists/{newsletter}")
    assert "was taken off newsletter" in desk.text
    reader = signed_in(office, "rita")
    reader.get(f"/contacts/lists/{newsletter}")
    assert 'name="contact_id"' not in reader.text
    assert reader.post(url, {"contact_id": samuel}).status_code == 403


def test_add_the_filtered_contacts_to_a_list_says_how_many_first(office: Any) -> None:
    office.plugin("contacts").create_list("fair")
    desk = signed_in(office, "sara")
    desk.get("/contacts/?q=acme.example")
    desk.get("/contacts/?region=Madrid")
    assert 'href="/contacts/add-to-list?region=Madrid"' in desk.text
    desk.get("/contacts/add-to-list?region=Madrid")
    assert desk.page.status_code == 200 and "Add these 1 contacts to a list" in desk.text
    assert 'name="region" value="Madrid"' in desk.text and members(office, "fair") == []  # GET only asks
    desk.get("/contacts/add-to-list")
    assert "Add these 2 contacts" in desk.text  # sara's two: Samuel is sam's
    assert desk.post("/contacts/add-to-list", {"to_list": "fair"}, csrf=False).status_code == 403
    page = desk.post("/contacts/add-to-list", {"to_list": "nope"})
    assert page.status_code == 422 and "Choose one of the lists." in desk.text and members(office, "fair") == []
    page = desk.post("/contacts/add-to-list", {"to_list": "fair"})
    assert page.status_code == 303 and page.headers["Location"].endswith(f"/contacts/lists/{list_id(office, 'fair')}")
    assert members(office, "fair") == ["Lucía Martín", "Pedro Ruiz"]
    desk.get(page.headers["Location"])
    assert "2 contacts added to fair; 0 were on it already." in desk.text
    page = desk.get("/contacts/add-to-list?country=Narnia")
    assert page.status_code == 303
    desk.get(page.headers["Location"])
    assert "Nothing was added" in desk.text and "country" in desk.text
    reader = signed_in(office, "rita")
    reader.get("/contacts/")
    assert "Add these to a list" not in reader.text
    assert reader.get("/contacts/add-to-list").status_code == 403


def test_add_one_contact_to_a_list_from_its_card(office: Any) -> None:
    office.plugin("contacts").create_list("fair")
    desk = signed_in(office, "sara")
    pedro = contact_id(office, "pedro@acme.example")
    desk.get(f"/contacts/{pedro}")
    assert f'href="/contacts/{pedro}/lists"' in desk.text
    desk.get(f"/contacts/{pedro}/lists")
    assert desk.page.status_code == 200 and 'value="fair"' in desk.text and 'value="newsletter"' in desk.text
    assert desk.post(f"/contacts/{pedro}/lists", {"to_list": "fair"}, csrf=False).status_code == 403
    assert desk.post(f"/contacts/{pedro}/lists", {"to_list": ""}).status_code == 422
    assert "Choose one of the lists." in desk.text
    assert desk.post(f"/contacts/{pedro}/lists", {"to_list": "fair"}).status_code == 303
    assert members(office, "fair") == ["Pedro Ruiz"]
    desk.get(f"/contacts/{pedro}")
    assert "Pedro Ruiz was added to fair." in desk.text and 'href="/contacts/?list=fair"' in desk.text
    samuel = contact_id(office, "samuel@other.example")
    assert desk.get(f"/contacts/{samuel}/lists").status_code == 404
    assert desk.post(f"/contacts/{samuel}/lists", {"to_list": "fair"}).status_code == 404
    reader = signed_in(office, "rita")
    assert reader.get(f"/contacts/{pedro}/lists").status_code == 403


def test_downloads_need_contacts_lists_send_and_honour_the_flags(office: Any) -> None:
    newsletter = list_id(office, "newsletter")
    seller = signed_in(office, "sara")
    assert seller.get(f"/contacts/lists/{newsletter}/download?what=csv").status_code == 403
    desk = signed_in(office, "root")
    desk.get(f"/contacts/lists/{newsletter}")
    assert f'href="/contacts/lists/{newsletter}/download?what=csv"' in desk.text
    page = desk.get(f"/contacts/lists/{newsletter}/download?what=csv")
    assert page.status_code == 200 and page.mimetype == "text/csv"
    assert 'filename="distribution.csv"' in page.headers["Content-Disposition"]
    assert "lucia@acme.example" in desk.text and "samuel@other.example" in desk.text
    office.plugin("contacts").unsubscribe(contact_id(office, "samuel@other.example"), "newsletter")
    page = desk.get(f"/contacts/lists/{newsletter}/download?what=addresses")
    assert desk.text == "lucia@acme.example\n" and page.headers["X-Contacts-Written"] == "1"
    assert "unsubscribed=1" in page.headers["X-Contacts-Left-Out"]
    page = desk.get(f"/contacts/lists/{newsletter}/download?what=labels-csv")
    assert "Gran Vía 1" in desk.text and page.headers["X-Contacts-Written"] == "1"
    page = desk.get(f"/contacts/lists/{newsletter}/download?what=labels-pdf")
    assert page.status_code == 200 and page.mimetype == "application/pdf" and page.data.startswith(b"%PDF")
    page = desk.get(f"/contacts/lists/{newsletter}/download?what=docx")
    assert page.status_code == 303
    desk.get(page.headers["Location"])
    assert "Choose what to download" in desk.text
    assert desk.get("/contacts/lists/999999/download?what=csv").status_code == 404


def test_label_pdf_without_reportlab_says_so(office: Any, monkeypatch: Any) -> None:
    for name in [n for n in sys.modules if n.startswith("reportlab")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "reportlab", None)  # import reportlab... raises ImportError
    newsletter = list_id(office, "newsletter")
    desk = signed_in(office, "root")
    page = desk.get(f"/contacts/lists/{newsletter}/download?what=labels-pdf")
    assert page.status_code == 303
    desk.get(page.headers["Location"])
    assert "PDF labels need the reportlab library" in desk.text and "Traceback" not in desk.text


def test_a_segments_page_shows_its_current_members_in_scope(office: Any) -> None:
    contacts = office.plugin("contacts")
    contacts.create(first_name="Vera", owner="sam", tags=["vip"])
    vip = contacts.segment("vip").id
    desk = signed_in(office, "sara")
    assert desk.get(f"/contacts/segments/{vip}").status_code == 200
    assert "Lucía Martín" in desk.text and "Vera" not in desk.text and "1–1 of 1 contacts" in desk.text
    contacts.create(first_name="Nico", owner="sara", tags=["vip"])
    desk.get(f"/contacts/segments/{vip}")
    assert "Nico" in desk.text and "1–2 of 2 contacts" in desk.text and "Tag: vip" in desk.text
    assert desk.get("/contacts/segments/999999").status_code == 404
    root = signed_in(office, "root")
    root.get(f"/contacts/segments/{vip}")
    assert "Vera" in root.text and f'href="/contacts/segments/{vip}/download?what=labels-pdf"' in root.text
    page = root.get(f"/contacts/segments/{vip}/download?what=addresses")
    assert page.status_code == 200 and root.text == "lucia@acme.example\n"  # Vera and Nico have no e-mail


def test_save_the_lists_filters_as_a_segment_shown_as_a_quick_link(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/?status=customer&region=Madrid")
    assert 'href="/contacts/segments/new?status=customer&amp;region=Madrid"' in desk.text
    desk.get("/contacts/segments/new?region=Madrid&status=customer")
    assert desk.page.status_code == 200 and "Region: Madrid" in desk.text
    form = {"status": "customer", "region": "Madrid", "name": "", "description": "big ones"}
    assert desk.post("/contacts/segments/new", form, csrf=False).status_code == 403
    page = desk.post("/contacts/segments/new", form)
    assert page.status_code == 422 and re.search(r'id="f-name"[^>]*aria-invalid="true"', desk.text)
    assert 'value="big ones"' in desk.text
    page = desk.post("/contacts/segments/new", {**form, "name": "vip"})
    assert page.status_code == 422 and "already exists" in desk.text
    page = desk.post("/contacts/segments/new", {**form, "name": "Madrid customers"})
    assert page.status_code == 303
    assert office.plugin("contacts").segment("Madrid customers").filters == {"status": "customer", "region": "Madrid"}
    desk.get("/contacts/")
    assert "Segments:" in desk.text and ">Madrid customers</a>" in desk.text
    assert (
        '<a class="button small" href="/contacts/?status=customer&amp;region=Madrid">Madrid customers</a>' in desk.text
    )
    vip = office.plugin("contacts").segment("vip").id
    assert 'href="/contacts/?tag=vip">vip</a>' in desk.text and f"/contacts/segments/{vip}" not in desk.text
    page = desk.post("/contacts/segments/new", {"name": "nothing"})
    assert page.status_code == 422 and "at least one filter" in desk.text
    reader = signed_in(office, "rita")
    reader.get("/contacts/?status=customer")
    assert "Save these filters" not in reader.text and ">Madrid customers</a>" in reader.text
    assert reader.get("/contacts/segments/new?status=customer").status_code == 403


def test_the_list_filters_by_mailing_list_and_custom_field(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/?list=newsletter")
    assert "Lucía Martín" in desk.text and "Pedro Ruiz" not in desk.text and "Mailing list: newsletter" in desk.text
    desk.get("/contacts/?field=industry&value=retail")
    assert "Lucía Martín" in desk.text and "Pedro Ruiz" not in desk.text and "industry: retail" in desk.text
    assert 'href="/contacts/"' in desk.text  # the chip drops both parts
    desk.get("/contacts/?field=industry")
    assert 'role="alert"' in desk.text and "Custom field: give both" in desk.text
    page = desk.get("/contacts/export?format=csv&field=industry&value=retail")
    assert page.status_code == 200 and "lucia@acme.example" in desk.text and "pedro@" not in desk.text


def test_the_lists_pages_in_spanish(office: Any) -> None:
    desk = signed_in(office, "sara")
    desk.get("/contacts/")
    desk.post("/language", {"language": "es", "next": "/contacts/"})
    desk.get("/contacts/lists/")
    assert "Listas de correo y segmentos" in desk.text and "Nueva lista" in desk.text
    desk.get(f"/contacts/lists/{list_id(office, 'newsletter')}")
    assert "Suscrito" in desk.text and "1 miembros, 0 dados de baja." in desk.text

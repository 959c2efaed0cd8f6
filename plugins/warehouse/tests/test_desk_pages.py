"""The warehouse's desk pages: the pipeline board, the sales records, the contact card's timeline, notes and documents.

Each page is opened as a seller (own scope), a manager (everyone's) and a
read-only user; forms are sent with good and bad values (the refusal beside
its field) and without the CSRF token; the board's and the timeline's
statements are counted as their rows grow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_core.testing import statements

pytest.importorskip("crm_desk")

from crm_core.errors import ValidationError  # noqa: E402
from crm_desk.testing import DeskClient, check_catalogs  # noqa: E402
from crm_warehouse.desk.history import EXCERPT  # noqa: E402

PASSWORD = "Correct-horse-42!"


@pytest.fixture
def app(crm_factory: Callable[..., Any], tmp_path: Path) -> Any:
    """Desk, contacts and warehouse; ana and bea sell (team north), marta manages, rita reads."""
    crm = crm_factory(
        plugins=["desk", "contacts", "warehouse"],
        settings={"desk": {"base_url": "https://crm.example.com"}, "warehouse": {"documents_dir": str(tmp_path)}},
        core={"secret": "warehouse-desk-secret-0123456789-0123456789"},
        mail={"sender": "CRM <crm@example.com>"},
    )
    crm.authz.teams.add("north")
    crm.authz.teams.add("south")
    for name, role, team in (
        ("ana", "sales", "north"),
        ("bea", "sales", "north"),
        ("carl", "sales", "south"),
        ("marta", "manager", "north"),
        ("rita", "read-only", "north"),
    ):
        crm.authz.users.add(
            name,
            display_name=f"{name.title()} López",
            email=f"{name}@example.com",
            roles=[role],
            teams=[team],
            timezone="Europe/Madrid",
            password=PASSWORD,
        )
    return crm


def desk_as(crm: Any, name: str) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def deal(crm: Any, owner: str, title: str, **kwargs: Any) -> Any:
    contact = crm.plugin("contacts").create(first_name=title, last_name="Cliente", owner=owner)
    return crm.plugin("warehouse").sales.add("sale", contact.id, title=title, owner=owner, **kwargs)


# -- the board --------------------------------------------------------------------------------


def test_the_board_shows_a_column_per_open_stage_with_counts_and_amounts(app: Any) -> None:
    deal(app, "ana", "Desks", amount="1200.50", currency="EUR", expected_close_on="2026-02-10")
    deal(app, "ana", "Chairs", amount="300", currency="USD", stage="proposal")
    deal(app, "ana", "Lamps", amount="99.50", currency="EUR")
    desk = desk_as(app, "ana")
    page = desk.get("/warehouse/pipeline")
    assert page.status_code == 200
    text = desk.text
    for stage in ("New", "Qualified", "Proposal", "Negotiation"):
        assert f">{stage} <span" in text
    assert "€1,300.00" in text  # Desks and Lamps in the new column
    assert "$300.00" in text
    assert "Desks" in text and "Chairs" in text
    assert ">AL<" in text  # Ana López's initials
    assert 'draggable="true"' in text and "/static/board." in text and 'data-board-column="won"' in text


def test_a_seller_sees_only_their_deals_on_the_board_and_a_manager_filters_by_owner_and_team(app: Any) -> None:
    deal(app, "ana", "Ana's deal")
    deal(app, "bea", "Bea's deal")
    deal(app, "carl", "Carl's deal")
    ana = desk_as(app, "ana")
    ana.get("/warehouse/pipeline")
    assert "Ana&#39;s deal" in ana.text and "Bea&#39;s deal" not in ana.text
    assert 'name="owner"' not in ana.text  # nothing to filter in an own scope
    marta = desk_as(app, "marta")
    marta.get("/warehouse/pipeline")
    assert all(f"{n}&#39;s deal" in marta.text for n in ("Ana", "Bea", "Carl"))
    marta.get("/warehouse/pipeline?owner=bea")
    assert "Bea&#39;s deal" in marta.text and "Ana&#39;s deal" not in marta.text
    marta.get("/warehouse/pipeline?team=south")
    assert "Carl&#39;s deal" in marta.text and "Bea&#39;s deal" not in marta.text
    assert marta.get("/warehouse/pipeline?team=nowhere").status_code == 404


def test_moving_a_card_by_its_form_and_closing_as_won_or_lost(app: Any) -> None:
    sale = deal(app, "ana", "Desks")
    other = deal(app, "ana", "Chairs")
    desk = desk_as(app, "ana")
    desk.get("/warehouse/pipeline")
    assert desk.post(f"/warehouse/sales/{sale.id}/stage", {"stage": "proposal"}, csrf=False).status_code == 403
    answer = desk.post(f"/warehouse/sales/{sale.id}/stage", {"stage": "proposal", "next": "/warehouse/pipeline"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/warehouse/pipeline"
    sales = app.plugin("warehouse").sales
    assert sales.get(sale.id).stage == "proposal"
    desk.get("/warehouse/pipeline")
    assert "moved to Proposal" in desk.text
    # an unknown stage: refused, said on the board, nothing moves
    desk.post(f"/warehouse/sales/{sale.id}/stage", {"stage": "heaven"})
    desk.get("/warehouse/pipeline")
    assert "Not moved" in desk.text and sales.get(sale.id).stage == "proposal"
    # won closes at once
    desk.post(f"/warehouse/sales/{sale.id}/stage", {"stage": "won"})
    assert sales.get(sale.id).outcome == "won"
    # lost asks for the reason first
    lost = desk.post(f"/warehouse/sales/{other.id}/stage", {"stage": "lost", "next": "/warehouse/pipeline"})
    assert lost.status_code == 303 and f"/warehouse/sales/{other.id}/close?outcome=lost" in lost.headers["Location"]
    desk.get(lost.headers["Location"])
    assert 'name="lost_reason"' in desk.text
    closed = desk.post(
        f"/warehouse/sales/{other.id}/close",
        {"outcome": "lost", "lost_reason": "Too expensive", "next": "/warehouse/pipeline"},
    )
    assert closed.status_code == 303 and closed.headers["Location"] == "/warehouse/pipeline"
    assert sales.get(other.id).lost_reason == "Too expensive" and sales.get(other.id).outcome == "lost"


def test_a_lost_reason_is_asked_for_when_the_settings_require_it(
    crm_factory: Callable[..., Any], tmp_path: Path
) -> None:
    crm = crm_factory(
        plugins=["desk", "contacts", "warehouse"],
        settings={"warehouse": {"documents_dir": str(tmp_path), "require_lost_reason": True}},
        core={"secret": "warehouse-desk-secret-0123456789-0123456789"},
    )
    crm.authz.users.add("ana", roles=["sales"], password=PASSWORD)
    sale = deal(crm, "ana", "Desks")
    desk = desk_as(crm, "ana")
    desk.get(f"/warehouse/sales/{sale.id}/close?outcome=lost")
    answer = desk.post(f"/warehouse/sales/{sale.id}/close", {"outcome": "lost", "lost_reason": " "})
    assert answer.status_code == 400 and 'aria-describedby="f-lost_reason-note"' in desk.text
    assert "Say why the deal was lost" in desk.text
    assert crm.plugin("warehouse").sales.get(sale.id).outcome == "open"


def test_another_sellers_deal_is_a_404_and_a_read_only_user_cannot_move(app: Any) -> None:
    bea_deal = deal(app, "bea", "Bea's deal")
    ana = desk_as(app, "ana")
    assert ana.get(f"/warehouse/sales/{bea_deal.id}").status_code == 404
    ana.get("/warehouse/pipeline")
    assert ana.post(f"/warehouse/sales/{bea_deal.id}/stage", {"stage": "proposal"}).status_code == 404
    rita = desk_as(app, "rita")
    rita.get("/warehouse/pipeline")
    assert rita.page.status_code == 200 and "Bea&#39;s deal" in rita.text
    assert 'draggable="true"' not in rita.text and 'name="stage"' not in rita.text
    assert rita.post(f"/warehouse/sales/{bea_deal.id}/stage", {"stage": "proposal"}).status_code == 403
    assert app.plugin("warehouse").sales.get(bea_deal.id).stage == "new"


def test_the_boards_statements_do_not_grow_with_its_deals(app: Any) -> None:
    """The statements grow with the stages (a line of configuration) and the owners shown (users), not the deals."""

    def count() -> int:
        with statements(app) as sql:
            assert desk.get("/warehouse/pipeline").status_code == 200
        return len(sql)

    desk = desk_as(app, "marta")
    for n, stage in enumerate(("new", "qualified", "proposal", "negotiation")):
        deal(app, ("ana", "bea")[n % 2], f"Deal {n}", stage=stage)
    few = count()
    for n in range(30):
        deal(app, ("ana", "bea")[n % 2], f"More {n}", stage=("new", "proposal")[n % 2], currency=("EUR", "USD")[n % 2])
    many = count()
    assert many == few, f"{few} statements for 4 deals, {many} for 34"


def test_the_home_widget_lists_the_deals_closing_this_month(app: Any) -> None:
    today = app.now().astimezone(dt.UTC).date()
    deal(app, "ana", "Closing soon", expected_close_on=today)
    deal(app, "ana", "Next year", expected_close_on=today.replace(year=today.year + 1))
    desk = desk_as(app, "ana")
    desk.get("/")
    assert "Deals closing this month" in desk.text
    assert "Closing soon" in desk.text and "Next year" not in desk.text


# -- the sales records -----------------------------------------------------------------------------


def test_a_new_deal_from_the_contact_card_and_its_field_errors(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Eva", last_name="Luna", owner="ana")
    desk = desk_as(app, "ana")
    desk.get(f"/contacts/{contact.id}")
    assert f"/warehouse/sales/new?contact_id={contact.id}" in desk.text
    desk.get(f"/warehouse/sales/new?contact_id={contact.id}&kind=rfq")
    assert 'name="contact_query" type="search" value="Eva Luna"' in desk.text
    assert f'type="radio" name="contact_id" value="{contact.id}" checked' in desk.text
    bad = desk.post(
        "/warehouse/sales/new",
        {"kind": "rfq", "contact_id": str(contact.id), "title": "Offer", "amount": "12.345", "currency": "EUR"},
    )
    assert bad.status_code == 400 and 'aria-describedby="f-amount-note"' in desk.text
    assert 'value="Offer"' in desk.text  # what was typed is kept
    bad = desk.post("/warehouse/sales/new", {"kind": "rfq", "contact_id": "", "title": "Offer"})
    assert bad.status_code == 400 and 'aria-describedby="f-contact_query-note" aria-invalid="true"' in desk.text
    bad = desk.post(
        "/warehouse/sales/new", {"kind": "rfq", "contact_id": str(contact.id), "expected_close_on": "31/03/2026"}
    )
    assert bad.status_code == 400 and 'aria-describedby="f-expected_close_on-note"' in desk.text
    good = desk.post(
        "/warehouse/sales/new",
        {
            "kind": "rfq",
            "contact_id": str(contact.id),
            "title": "Offer for 20 desks",
            "amount": "2400",
            "currency": "EUR",
            "owner": "ana",
            "stage": "new",
            "expected_close_on": "2026-03-31",
        },
    )
    assert good.status_code == 303
    sale = app.plugin("warehouse").sales.list(contact_id=contact.id)[0]
    assert (sale.kind, sale.title, str(sale.amount), sale.owner) == ("rfq", "Offer for 20 desks", "2400.00", "ana")
    desk.get(good.headers["Location"])
    assert "Offer for 20 desks" in desk.text and "Request for quotation" in desk.text
    desk.get(f"/contacts/{contact.id}")
    assert "Offer for 20 desks" in desk.text  # the deals panel


def test_new_deal_picks_the_contact_by_name_with_and_without_javascript(app: Any) -> None:
    contacts = app.plugin("contacts")
    eva = contacts.create(first_name="Eva", last_name="Luna", owner="ana", email="eva@example.com")
    evaristo = contacts.create(first_name="Evaristo", last_name="Gil", owner="ana", region="Norte")
    contacts.create(first_name="Eva", last_name="Otra", owner="bea")  # bea's: ana never sees her
    desk = desk_as(app, "ana")
    desk.get("/warehouse/sales/new")
    assert 'hx-get="/warehouse/sales/new/contacts"' in desk.text and 'name="contact_query"' in desk.text
    # as one types (htmx): the matches in ana's scope, each a radio button
    found = desk.get("/warehouse/sales/new/contacts?contact_query=eva").get_data(as_text=True)
    assert f'value="{eva.id}"> Eva Luna <span class="muted">· eva@example.com</span>' in found
    assert f'value="{evaristo.id}"> Evaristo Gil <span class="muted">· Norte</span>' in found
    assert "Otra" not in found and "checked" not in found
    assert f'value="{eva.id}" checked' in desk.get(
        f"/warehouse/sales/new/contacts?contact_query=eva&contact_id={eva.id}").get_data(as_text=True)  # fmt: skip
    only = desk.get("/warehouse/sales/new/contacts?contact_query=luna").get_data(as_text=True)
    assert f'value="{eva.id}" checked' in only  # the only match is chosen
    none = desk.get("/warehouse/sales/new/contacts?contact_query=zoe").get_data(as_text=True)
    assert "No contact you may see matches “zoe”." in none
    assert desk.get("/warehouse/sales/new/contacts?contact_query=").get_data(as_text=True).strip() == ""
    # without JavaScript: saving with a name that matches several brings them back to choose from
    fields = {"kind": "sale", "title": "Desks", "amount": "100", "currency": "EUR", "owner": "ana", "stage": "new"}
    several = desk.post("/warehouse/sales/new", {**fields, "contact_query": "Eva"})
    assert several.status_code == 400 and "Several contacts match “Eva”: choose one." in desk.text
    assert f'value="{evaristo.id}">' in desk.text and 'value="Desks"' in desk.text  # what was typed is kept
    chosen = desk.post("/warehouse/sales/new", {**fields, "contact_query": "Eva", "contact_id": str(evaristo.id)})
    assert chosen.status_code == 303
    # a name that matches one contact chooses it; a number is taken as it is; nothing found is said
    assert desk.post("/warehouse/sales/new", {**fields, "contact_query": "luna"}).status_code == 303
    assert desk.post("/warehouse/sales/new", {**fields, "contact_query": f"#{eva.id}"}).status_code == 303
    nobody = desk.post("/warehouse/sales/new", {**fields, "contact_query": "Zoe"})
    assert nobody.status_code == 400 and "No contact you may see matches “Zoe”" in desk.text
    owners = sorted(s.contact_id for s in app.plugin("warehouse").sales.list())
    assert owners == sorted([evaristo.id, eva.id, eva.id])
    # the matches need the permission to record deals
    rita = desk_as(app, "rita")
    assert rita.get("/warehouse/sales/new/contacts?contact_query=eva").status_code == 403
    desk.get("/")
    desk.post("/language", {"language": "es", "next": "/"})
    desk.post("/warehouse/sales/new", {**fields, "contact_query": "Eva"})
    assert "Varios contactos coinciden con «Eva»: elija uno." in desk.text and "Elija el contacto" in desk.text


def test_a_seller_may_not_record_a_deal_for_another_sellers_contact(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Bea's", last_name="Client", owner="bea")
    desk = desk_as(app, "ana")
    desk.get("/warehouse/sales/new")
    bad = desk.post("/warehouse/sales/new", {"kind": "sale", "contact_id": str(contact.id), "title": "Mine"})
    assert bad.status_code == 400 and "There is no contact" in desk.text
    assert app.plugin("warehouse").sales.count() == 0


def test_editing_a_deal_and_the_list_with_filters_and_paging(app: Any) -> None:
    sale = deal(app, "ana", "Desks", amount="100")
    desk = desk_as(app, "ana")
    desk.get(f"/warehouse/sales/{sale.id}/edit")
    assert 'value="Desks"' in desk.text
    bad = desk.post(f"/warehouse/sales/{sale.id}/edit", {"kind": "sale", "title": "Desks", "currency": "EURO"})
    assert bad.status_code == 400 and 'aria-describedby="f-currency-note"' in desk.text
    good = desk.post(
        f"/warehouse/sales/{sale.id}/edit",
        {"kind": "quote", "title": "Desks and chairs", "amount": "150", "currency": "EUR", "owner": "ana"},
    )
    assert good.status_code == 303
    changed = app.plugin("warehouse").sales.get(sale.id)
    assert (changed.kind, changed.title, str(changed.amount)) == ("quote", "Desks and chairs", "150.00")
    for n in range(55):
        deal(app, "ana", f"Lot {n:02}", stage="proposal" if n % 5 == 0 else None)
    desk.get("/warehouse/sales/")
    assert "Lot 54" in desk.text and "Older" in desk.text and "Desks and chairs" not in desk.text
    desk.get("/warehouse/sales/?kind=quote")
    assert "Desks and chairs" in desk.text and "Lot 54" not in desk.text
    desk.get("/warehouse/sales/?stage=proposal")
    assert "Lot 50" in desk.text and "Lot 51" not in desk.text
    assert desk.get("/warehouse/sales/?kind=nonsense").status_code == 400
    desk.get(f"/warehouse/sales/?contact_id={sale.contact_id}")
    assert "Desks and chairs" in desk.text and "Lot 54" not in desk.text


# -- the contact card: timeline, composer, as-of, documents ------------------------------------------


def test_logging_a_meeting_note_from_the_card_shows_it_on_the_timeline(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Eva", last_name="Luna", owner="ana")
    desk = desk_as(app, "ana")
    desk.get(f"/contacts/{contact.id}")
    assert "Timeline" in desk.text and 'name="subject"' in desk.text and "Contact created" in desk.text
    assert (
        desk.post(f"/warehouse/contacts/{contact.id}/log", {"kind": "meeting", "subject": "x"}, csrf=False).status_code
        == 403
    )
    empty = desk.post(f"/warehouse/contacts/{contact.id}/log", {"kind": "meeting", "subject": " ", "body": ""})
    assert empty.status_code == 400 and 'aria-describedby="f-subject-note"' in desk.text
    future = desk.post(
        f"/warehouse/contacts/{contact.id}/log", {"kind": "call", "subject": "Call", "occurred_at": "2999-01-01T10:00"}
    )
    assert future.status_code == 400 and 'aria-describedby="f-occurred_at-note"' in desk.text
    done = desk.post(
        f"/warehouse/contacts/{contact.id}/log",
        {
            "kind": "meeting",
            "subject": "Visit in Madrid",
            "body": "She wants 20 desks",
            "next": f"/contacts/{contact.id}",
        },
    )
    assert done.status_code == 303 and done.headers["Location"] == f"/contacts/{contact.id}"
    actions = app.plugin("warehouse").actions.list(contact_id=contact.id)
    assert [(a.kind, a.subject) for a in actions] == [("meeting", "Visit in Madrid")]
    desk.get(f"/contacts/{contact.id}")
    logged = "<strong>Meeting note</strong>"
    assert logged in desk.text and "Visit in Madrid — She wants 20 desks" in desk.text
    desk.get(f"/warehouse/contacts/{contact.id}/timeline?kind=note")
    assert logged in desk.text and "Visit in Madrid — She wants 20 desks" in desk.text
    assert "Contact created" not in desk.text
    assert desk.get(f"/warehouse/contacts/{contact.id}/timeline?kind=bogus").status_code == 400


def test_a_logged_action_on_the_timeline_says_its_subject_and_the_start_of_its_text(app: Any) -> None:
    contacts = app.plugin("contacts")
    eva = contacts.create(first_name="Eva", last_name="Luna", owner="ana")
    actions = app.plugin("warehouse").actions
    long = actions.log("email", contact_id=eva.id, subject="Offer", body="word " * 100, author="ana")
    bare = actions.log("call", contact_id=eva.id, body="  Left a\nmessage  ", author="ana")
    desk = desk_as(app, "ana")
    page = desk.get(f"/warehouse/contacts/{eva.id}/timeline").get_data(as_text=True)
    excerpt = "Offer — " + ("word " * 100)[: EXCERPT - 1].rstrip() + "…"
    assert "<strong>E-mail</strong>" in page and excerpt in page
    assert "<strong>Call</strong>" in page and "Left a message" in page  # no subject: the text alone, on one line
    # one read of the actions for the page, whatever their number, and only those in the user's scope
    other = contacts.create(first_name="Otto", last_name="Sur", owner="carl")
    hidden = actions.log("note", contact_id=other.id, subject="Private", author="carl")
    with app.as_user(app.authz.users.get("ana")):
        assert set(actions.many([long.id, bare.id, hidden.id, 999_999])) == {long.id, bare.id}
        assert actions.many([]) == {}
        with pytest.raises(ValidationError):
            actions.many([0])
    with app.as_user(app.authz.users.get("carl")):
        assert set(actions.many([long.id, hidden.id])) == {hidden.id}
    # a user who reads the history but not the staff actions gets the event's sentence, not the subject
    app.authz.roles.add(
        "historian",
        permissions=["desk.use", "contacts.read", "warehouse.history.read"],
        scopes={"contacts.contact": "all"},
    )
    app.authz.users.add("hugo", roles=["historian"], password=PASSWORD)
    page = desk_as(app, "hugo").get(f"/warehouse/contacts/{eva.id}/timeline").get_data(as_text=True)
    assert "<strong>E-mail</strong>" in page and "E-mail logged by ana" in page and "Offer" not in page


def test_the_timeline_pages_with_a_cursor_that_skips_nothing(app: Any) -> None:
    contacts = app.plugin("contacts")
    contact = contacts.create(first_name="Eva", last_name="Luna", owner="ana")
    for n in range(60):  # the test clock stands still: every change has the same time
        contacts.update(contact.id, notes=f"note {n}")
    desk = desk_as(app, "ana")
    desk.get(f"/warehouse/contacts/{contact.id}/timeline")
    seen = desk.text.count('class="timeline-entry')
    assert seen == 50 and "Older" in desk.text
    import re

    link = re.search(r'href="(/warehouse/contacts/\d+/timeline\?[^"]*before=[^"]*)"', desk.text)
    assert link is not None
    desk.get(link.group(1).replace("&amp;", "&"))
    assert desk.page.status_code == 200
    assert desk.text.count('class="timeline-entry') == 11  # 60 changes and the creation: none lost, none twice
    assert "Contact created" in desk.text


def test_the_contact_as_it_was_on_a_day(app: Any) -> None:
    contacts = app.plugin("contacts")
    contact = contacts.create(first_name="Eva", last_name="Luna", owner="ana")
    desk = desk_as(app, "ana")
    today = app.now().date()
    desk.get(f"/warehouse/contacts/{contact.id}/as-of?date={today.isoformat()}")
    assert desk.page.status_code == 200 and "Luna" in desk.text
    bad = desk.get(f"/warehouse/contacts/{contact.id}/as-of?date=yesterday")
    assert bad.status_code == 400 and 'aria-describedby="f-date-note"' in desk.text
    before = desk.get(f"/warehouse/contacts/{contact.id}/as-of?date=2000-01-01")
    assert before.status_code == 400 and "did not exist yet" in desk.text


def test_the_timeline_and_the_contact_as_it_was_speak_spanish(app: Any, make_unknown: Any) -> None:
    import io

    contacts = app.plugin("contacts")
    eva = contacts.create(first_name="Eva", last_name="Luna", owner="ana", status="prospect")
    contacts.update(eva.id, status="customer", region="Norte")
    sales = app.plugin("warehouse").sales
    desks = sales.add("rfp", eva.id, title="Desks", amount="2400", owner="ana")
    sales.move(desks.id, "qualified")
    sales.close(desks.id, won=True)
    chairs = sales.add("sale", eva.id, title="Chairs", owner="ana")
    sales.close(chairs.id, won=False, lost_reason="too dear")
    app.plugin("warehouse").actions.log("call", contact_id=eva.id, subject="Hello", author="ana")
    app.plugin("warehouse").documents.attach(io.BytesIO(b"x" * 2048), contact_id=eva.id, name="offer.pdf")
    with app.transaction():
        app.emit(make_unknown("acme.ParcelShipped", contact_id=eva.id, parcel="P-7"))
    desk = desk_as(app, "ana")
    english = desk.get(f"/warehouse/contacts/{eva.id}/timeline").get_data(as_text=True)
    assert "Changed: status: prospect → customer; region: (empty) → Norte" in english
    assert f"Deal #{desks.id} moved from New to Qualified" in english and "<strong>Call</strong>" in english
    assert "Hello" in english and "Call logged by ana" not in english  # the action's subject, not a sentence again
    desk.post("/language", {"language": "es", "next": "/"})
    page = desk.get(f"/warehouse/contacts/{eva.id}/timeline").get_data(as_text=True)
    for said in (
        "Alta como persona: Eva Luna",
        "Cambios: estado: cliente potencial → cliente; región: (vacío) → Norte",
        f"Solicitud de propuesta recibida: oportunidad n.º {desks.id}",
        f"Oportunidad n.º {desks.id} entró en el embudo en Nueva",
        f"Oportunidad n.º {desks.id} movida de Nueva a Cualificada",
        f"Oportunidad n.º {desks.id} ganada: 2.400,00\xa0€",
        f"Oportunidad n.º {chairs.id} perdida: too dear",
        "<strong>Llamada</strong>",
        "«offer.pdf» adjuntado (2 KB)",
    ):
        assert said in page, said
    assert "acme.ParcelShipped (unknown type): contact_id=" in page  # a type no plugin defines: the warehouse's words
    for english_word in ("moved", "created (person)", "logged by", "attached", "record "):
        assert english_word not in page, english_word
    today = app.now().date()
    past = desk.get(f"/warehouse/contacts/{eva.id}/as-of?date={today.isoformat()}").get_data(as_text=True)
    assert "<dt>Estado</dt><dd>cliente</dd>" in past and "<dt>Nombre de pila</dt><dd>Eva</dd>" in past


def test_uploading_and_downloading_a_document(app: Any) -> None:
    import io

    contact = app.plugin("contacts").create(first_name="Eva", last_name="Luna", owner="ana")
    desk = desk_as(app, "ana")
    desk.get(f"/contacts/{contact.id}")
    assert 'enctype="multipart/form-data"' in desk.text
    content = b"%PDF-1.4 offer " * 40_000  # 600 kB: more than a form may carry, less than a document may
    answer = desk.post(
        f"/warehouse/contacts/{contact.id}/documents",
        {
            "file": (io.BytesIO(content), "offer.pdf", "application/pdf"),
            "description": "The offer",
            "next": f"/contacts/{contact.id}",
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    documents = app.plugin("warehouse").documents.list(contact_id=contact.id)
    assert [(d.name, d.size) for d in documents] == [("offer.pdf", len(content))]
    desk.get(f"/contacts/{contact.id}")
    assert "offer.pdf" in desk.text
    download = desk.get(f"/warehouse/documents/{documents[0].id}")
    assert download.status_code == 200 and download.data == content
    assert "attachment" in download.headers["Content-Disposition"]
    missing = desk.post(
        f"/warehouse/contacts/{contact.id}/documents", {"description": "x"}, content_type="multipart/form-data"
    )
    assert missing.status_code == 303
    desk.get(f"/contacts/{contact.id}")
    assert "Choose a file to upload." in desk.text
    other = desk_as(app, "bea")
    assert other.get(f"/warehouse/documents/{documents[0].id}").status_code == 404


def test_uploading_a_document_from_a_deals_page(app: Any) -> None:
    import io

    desks = deal(app, "ana", "Desks", amount="2400")
    desk = desk_as(app, "ana")
    desk.get(f"/warehouse/sales/{desks.id}")
    assert f'action="/warehouse/sales/{desks.id}/documents" enctype="multipart/form-data"' in desk.text
    assert "No documents about this deal yet" in desk.text
    content = b"%PDF-1.4 the proposal " * 30_000  # 660 kB: more than a form may carry
    answer = desk.post(
        f"/warehouse/sales/{desks.id}/documents",
        {"file": (io.BytesIO(content), "proposal.pdf", "application/pdf"), "description": "Our proposal",
         "next": f"/warehouse/sales/{desks.id}"},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["Location"] == f"/warehouse/sales/{desks.id}"
    [document] = app.plugin("warehouse").documents.list(sale_id=desks.id)
    assert (document.name, document.sale_id, document.contact_id) == ("proposal.pdf", desks.id, desks.contact_id)
    assert (document.description, document.uploaded_by) == ("Our proposal", "ana")
    page = desk.get(f"/warehouse/sales/{desks.id}").get_data(as_text=True)
    assert (
        "Uploaded: proposal.pdf" in page and f'href="/warehouse/documents/{document.id}" download>proposal.pdf' in page
    )
    assert "Our proposal" in page
    assert "proposal.pdf" in desk.get(f"/contacts/{desks.contact_id}").get_data(as_text=True)  # the contact's too
    download = desk.get(f"/warehouse/documents/{document.id}")
    assert download.status_code == 200 and download.data == content
    # no file chosen: said on the deal's page
    desk.post(f"/warehouse/sales/{desks.id}/documents", {"description": "x"}, content_type="multipart/form-data")
    assert "Choose a file to upload." in desk.get(f"/warehouse/sales/{desks.id}").get_data(as_text=True)
    # another seller's deal is unknown to ana; a reader may not upload; without the token nothing is taken
    theirs = deal(app, "bea", "Chairs")
    sent = {"file": (io.BytesIO(b"x"), "x.pdf")}
    assert (
        desk.post(f"/warehouse/sales/{theirs.id}/documents", sent, content_type="multipart/form-data").status_code
        == 404
    )
    rita = desk_as(app, "rita")
    rita.get(f"/warehouse/sales/{desks.id}")
    assert "proposal.pdf" in rita.text and 'type="file"' not in rita.text
    sent = {"file": (io.BytesIO(b"x"), "x.pdf")}
    assert (
        rita.post(f"/warehouse/sales/{desks.id}/documents", sent, content_type="multipart/form-data").status_code == 403
    )
    sent = {"file": (io.BytesIO(b"x"), "x.pdf")}
    assert (
        desk.post(
            f"/warehouse/sales/{desks.id}/documents", sent, content_type="multipart/form-data", csrf=False
        ).status_code
        == 403
    )
    assert len(app.plugin("warehouse").documents.list(sale_id=desks.id)) == 1


def test_a_stored_file_altered_on_disk_is_not_downloaded(app: Any, tmp_path: Path) -> None:
    import io

    from crm_warehouse.documents import blob_path

    desks = deal(app, "ana", "Desks")
    desk = desk_as(app, "ana")
    desk.get(f"/warehouse/sales/{desks.id}")
    desk.post(
        f"/warehouse/sales/{desks.id}/documents",
        {"file": (io.BytesIO(b"the signed contract"), "contract.pdf")},
        content_type="multipart/form-data",
    )
    [document] = app.plugin("warehouse").documents.list(sale_id=desks.id)
    blob_path(tmp_path, document.sha256).write_bytes(b"the signed contract, changed")
    answer = desk.get(
        f"/warehouse/documents/{document.id}", headers={"Referer": f"http://localhost/warehouse/sales/{desks.id}"}
    )
    assert answer.status_code == 303 and answer.headers["Location"] == f"/warehouse/sales/{desks.id}"
    page = desk.get(f"/warehouse/sales/{desks.id}").get_data(as_text=True)
    assert "Not downloaded: the file of document" in page and "was altered on disk" in page
    blob_path(tmp_path, document.sha256).unlink()
    answer = desk.get(f"/warehouse/documents/{document.id}", headers={"Referer": "https://elsewhere.example/"})
    assert answer.headers["Location"] == f"/warehouse/sales/{desks.id}"  # not back to another site
    assert "is missing from" in desk.get(answer.headers["Location"]).get_data(as_text=True)


def test_a_read_only_user_sees_the_timeline_but_no_composer_nor_upload(app: Any) -> None:
    contact = app.plugin("contacts").create(first_name="Eva", last_name="Luna", owner="ana")
    rita = desk_as(app, "rita")
    rita.get(f"/contacts/{contact.id}")
    assert "Contact created" in rita.text
    assert 'name="subject"' not in rita.text and 'type="file"' not in rita.text
    assert rita.post(f"/warehouse/contacts/{contact.id}/log", {"kind": "note", "subject": "x"}).status_code == 403


def test_the_timeline_statements_do_not_grow_with_its_entries(app: Any) -> None:
    contacts = app.plugin("contacts")
    contact = contacts.create(first_name="Eva", last_name="Luna", owner="ana")
    desk = desk_as(app, "ana")

    def count() -> int:
        with statements(app) as sql:
            assert desk.get(f"/warehouse/contacts/{contact.id}/timeline").status_code == 200
        return len(sql)

    few = count()
    for n in range(30):
        contacts.update(contact.id, notes=f"note {n}")
    assert count() == few
    actions = app.plugin("warehouse").actions
    actions.log("call", contact_id=contact.id, subject="First call", author="ana")
    one_action = count()
    assert one_action == few + 1  # the subjects of the page's logged actions: one read
    for n in range(20):
        actions.log("note", contact_id=contact.id, subject=f"note {n}", author="ana")
    assert count() == one_action


def test_the_pages_in_spanish(app: Any) -> None:
    deal(app, "ana", "Mesas", amount="1234.56", currency="EUR")
    desk = desk_as(app, "ana")
    desk.get("/warehouse/pipeline")
    desk.post("/language", {"language": "es", "next": "/warehouse/pipeline"})
    desk.get("/warehouse/pipeline")
    assert "Embudo de ventas" in desk.text and "1234,56" in desk.text.replace(".", "")


# -- the catalogs --------------------------------------------------------------------------------

PLUGIN = Path(__file__).resolve().parents[1]


def test_every_desk_page_string_is_in_the_spanish_catalog_and_compiled() -> None:
    check_catalogs(PLUGIN, PLUGIN / "crm_warehouse" / "desk" / "translations")

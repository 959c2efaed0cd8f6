"""The desk's search (crm_desk_search): grouped by kind, as you type, Enter opens the first, in the user's scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm_desk.testing import DeskClient
from crm_hookspecs.records import DeskSearchResult

PASSWORD = "Correct-horse-42!"


def notes_blueprint() -> Any:
    import flask

    blueprint = flask.Blueprint("notes", __name__)

    @blueprint.route("/<int:note_id>")
    def note(note_id: int) -> Any:
        return f"note {note_id}"

    return blueprint


def notes_search(crm: Any, query: str, limit: int) -> list[DeskSearchResult]:
    """A third-party plugin's search: notes whose text has the query."""
    texts = {1: "Call Lucía about the renewal", 2: "Lucía prefers e-mail", 3: "Unrelated"}
    return [
        DeskSearchResult("Notes", text, "notes.note", {"note_id": pk}, subtitle=f"note {pk}")
        for pk, text in texts.items()
        if query.lower() in text.lower()
    ][:limit]


@pytest.fixture
def office(desk_app: Callable[..., Any], crm_plugin: Callable[..., Any]) -> Any:
    from crm_hookspecs.records import DeskPages

    notes = crm_plugin(
        "notes",
        crm_desk_pages=lambda crm: DeskPages(blueprint=notes_blueprint),
        crm_desk_search=notes_search,
    )
    crm = desk_app("contacts", notes)
    crm.authz.users.add("sam", display_name="Sam", roles=["sales"], password=PASSWORD)
    contacts = crm.plugin("contacts")
    contacts.create(
        first_name="Lucía", last_name="Martín", email="lucia@acme.example", phone="+34 600 111 222", owner="ana"
    )
    contacts.create(first_name="Samuel", last_name="Otero", email="samuel@other.example", owner="sam")
    return crm


def signed_in(crm: Any, name: str) -> DeskClient:
    web = DeskClient(crm)
    assert web.sign_in(name, PASSWORD).status_code == 302
    return web


def _contact_id(crm: Any, email: str) -> int:
    return int(crm.plugin("contacts").search(email).cards[0].id)


@pytest.mark.parametrize("query", ["Martín", "lucía", "lucia@acme.example", "+34 600 111 222", "+34600111222"])
def test_a_contact_is_found_by_name_email_and_phone(office: Any, query: str) -> None:
    web = signed_in(office, "root")
    web.get("/search", query_string={"q": query})
    card = f'href="/contacts/{_contact_id(office, "lucia@acme.example")}"'
    assert card in web.text and "Lucía Martín" in web.text and "lucia@acme.example" in web.text


def test_results_are_grouped_by_kind(office: Any) -> None:
    web = signed_in(office, "root")
    web.get("/search", query_string={"q": "Lucía"})
    text = web.text
    assert "<h2>Contacts</h2>" in text and "<h2>Notes</h2>" in text
    contacts, notes = text.index("<h2>Contacts</h2>"), text.index("<h2>Notes</h2>")
    assert contacts < text.index("Lucía Martín") < notes < text.index("Call Lucía about the renewal")
    assert 'href="/notes/1"' in text and 'href="/notes/2"' in text and "Unrelated" not in text


def test_a_seller_does_not_find_another_sellers_customer(office: Any) -> None:
    ana = signed_in(office, "ana")
    ana.get("/search", query_string={"q": "Samuel"})
    assert "Samuel Otero" not in ana.text and "Nothing matches “Samuel”." in ana.text
    sam = signed_in(office, "sam")
    sam.get("/search", query_string={"q": "Samuel"})
    assert "Samuel Otero" in sam.text


def test_as_you_type_gives_the_results_alone(office: Any) -> None:
    web = signed_in(office, "root")
    web.get("/search")
    assert 'hx-get="/search/results"' in web.text
    web.get("/search/results", query_string={"q": "Martín"}, headers={"HX-Request": "true"})
    assert "Lucía Martín" in web.text and "<html" not in web.text


def test_enter_opens_the_first_result(office: Any) -> None:
    web = signed_in(office, "root")
    response = web.get("/search", query_string={"q": "Lucía", "go": "1"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/contacts/{_contact_id(office, 'lucia@acme.example')}"
    # nothing found: the page says so instead of going anywhere
    assert web.get("/search", query_string={"q": "zzz", "go": "1"}).status_code == 200
    assert "Nothing matches “zzz”." in web.text


def test_an_empty_query_shows_a_hint(office: Any) -> None:
    web = signed_in(office, "root")
    web.get("/search", query_string={"q": "   "})
    assert "Type a name, an e-mail address, a phone number" in web.text
    web.get("/search/results")
    assert "Type a name, an e-mail address, a phone number" in web.text


def test_without_a_provider_the_page_says_search_is_not_offered(desk_app: Callable[..., Any]) -> None:
    web = signed_in(desk_app(), "root")
    web.get("/search", query_string={"q": "Lucía"})
    assert "No installed plugin offers search yet" in web.text


def test_a_failing_or_wrong_provider_is_left_out_and_named(
    office: Any, desk_app: Callable[..., Any], crm_plugin: Callable[..., Any], caplog: Any
) -> None:
    broken = crm_plugin("broken", crm_desk_search=lambda crm, query, limit: 1 / 0)
    wrong = crm_plugin("wrong", crm_desk_search=lambda crm, query, limit: ["not a result"])
    lost = crm_plugin(
        "lost", crm_desk_search=lambda crm, query, limit: [DeskSearchResult("Lost", "nowhere", "lost.page")]
    )
    crm = desk_app("contacts", broken, wrong, lost)
    web = signed_in(crm, "root")
    web.get("/search", query_string={"q": "Lucía"})
    assert web.page.status_code == 200 and "Lucía Martín" in web.text
    for name in ("broken", "wrong", "lost"):
        assert f"Search in {name} failed" in web.text
    logged = caplog.text
    assert "crm_desk_search raised ZeroDivisionError" in logged
    assert "must return DeskSearchResult records, not str 'not a result'" in logged
    assert "endpoint 'lost.page'" in logged


def test_the_search_is_in_spanish(office: Any) -> None:
    web = signed_in(office, "root")
    web.get("/search")
    web.post("/language", {"language": "es", "next": "/search"})
    web.get("/search", query_string={"q": "Lucía"})
    assert "<h2>Contactos</h2>" in web.text and "Abrir el primero" in web.text


def test_the_hooks_cut_each_plugin_to_the_limit(office: Any) -> None:
    found = dict(office.hooks.desk_search(office, "Lucía", 1))
    assert [r.title for r in found["notes"]] == ["Call Lucía about the renewal"]
    assert [r.title for r in found["contacts"]] == ["Lucía Martín"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "", "title": "x", "endpoint": "a.b"}, "kind must be a non-empty string"),
        ({"kind": "K", "title": " ", "endpoint": "a.b"}, "title must be a non-empty string"),
        ({"kind": "K", "title": "x", "endpoint": "nodot"}, "name a Flask endpoint as '<blueprint>.<view>'"),
        ({"kind": "K", "title": "x", "endpoint": "a.b", "subtitle": 3}, "subtitle must be a string"),
    ],
)
def test_a_bad_result_is_refused_by_name(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeskSearchResult(**fields)

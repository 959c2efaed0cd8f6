"""The surveys pages of the desk: the list, a survey as the recipient sees it, sending, paper answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crm_core.testing import statements

pytest.importorskip("crm_desk")

from crm_desk.testing import DeskClient, check_catalogs  # noqa: E402

PASSWORD = "Correct-horse-42!"
ROLES = ("admin", "manager", "sales", "support", "read-only")


@pytest.fixture
def office(crm_factory: Callable[..., Any], definition: dict[str, Any]) -> Any:
    """The desk, contacts and surveys; a survey, a list of three (one of them sam's), a user of each role."""
    crm = crm_factory(
        plugins=["desk", "contacts", "surveys"],
        settings={"desk": {"base_url": "https://crm.example.com"}, "surveys": {"secret": "test-secret-for-surveys"}},
        core={"secret": "desk-secret-for-the-surveys-tests-0123456789"},
        mail={"sender": "CRM <crm@example.com>", "unsubscribe_mailto": "unsubscribe@example.com"},
    )
    for role in ROLES:
        crm.authz.users.add(f"u-{role}", roles=[role], password=PASSWORD, email=f"{role}@example.com")
    crm.authz.users.add("sam", roles=["sales"], password=PASSWORD)
    crm.plugin("surveys").save(definition)
    contacts = crm.plugin("contacts")
    contacts.create_list("customers")
    ids = [
        contacts.create(first_name=name, last_name="Ruiz", email=f"{name.lower()}@example.com", owner=owner).id
        for name, owner in (("Ana", "u-sales"), ("Luis", "u-sales"), ("Eva", "sam"))
    ]
    contacts.add_to_list("customers", ids)
    crm.ids = ids
    return crm


def signed_in(crm: Any, name: str = "u-admin") -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def survey_id(crm: Any) -> int:
    return crm.plugin("surveys").get("csat").id


def test_the_list_and_the_survey_as_the_recipient_sees_it(office: Any) -> None:
    desk = signed_in(office)
    assert 'href="/surveys/"' in desk.get("/").get_data(as_text=True)  # the nav entry
    desk.get("/surveys/")
    assert "How did we do?" in desk.text and "<code>csat</code>" in desk.text and "Type in paper answers" in desk.text
    number = survey_id(office)
    desk.get(f"/surveys/{number}")
    page = desk.text
    assert "Two minutes, please." in page and "<fieldset disabled>" in page
    assert "Would you recommend us? (required)" in page
    assert page.count('name="q-recommend" type="radio"') == 0 and page.count('type="radio" name="q-recommend"') == 11
    assert 'type="checkbox" name="q-topics" value="Events"' in page and 'name="q-why"' in page
    assert "Asked only after certain answers" in page  # the condition of "why"
    assert re.search(r"<td data-label=\"Questions\">7</td>", page)
    assert desk.get("/surveys/9999").status_code == 404
    assert desk.get(f"/surveys/{number}?version=7").status_code == 404


def test_send_to_a_list_checked_first_and_a_test_to_oneself(office: Any) -> None:
    desk = signed_in(office)
    number = survey_id(office)
    desk.get(f"/surveys/{number}/send")
    assert '<option value="list:customers">List: customers</option>' in desk.text
    assert desk.post(f"/surveys/{number}/send", {"source": "", "action": "check"}).status_code == 422
    assert 'id="f-source-note">Choose the mailing list or segment to send to.' in desk.text
    assert desk.post(f"/surveys/{number}/send", {"source": "list:nobody", "action": "check"}).status_code == 422
    assert "no mailing list or segment named" in desk.text
    both = {"source": "list:customers", "source_segment": "madrid", "action": "check"}
    assert desk.post(f"/surveys/{number}/send", both).status_code == 422
    assert 'id="f-source-note">Choose a list or a segment, not both.' in desk.text
    office.plugin("contacts").create_segment("ruiz", {"query": "Ruiz"})
    desk.post(f"/surveys/{number}/send", {"source": "", "source_segment": "ruiz", "action": "check"})
    assert "It reaches 3 contacts." in desk.text and 'value="ruiz"' in desk.text
    desk.post(f"/surveys/{number}/send", {"source": "list:customers", "action": "check"})
    assert "It reaches 3 contacts." in desk.text and "Send to 3 contacts" in desk.text
    answer = desk.post(f"/surveys/{number}/send", {"source": "list:customers", "action": "send"})
    assert answer.status_code == 303
    assert office.plugin("surveys").get("csat").invited == 3
    desk.get(f"/surveys/{number}/send")
    desk.post(f"/surveys/{number}/send", {"source": "list:customers", "action": "check"})
    assert "It reaches 0 contacts." in desk.text and "Already sent this survey: 3" in desk.text
    answer = desk.post(f"/surveys/{number}/send?action=test")
    assert answer.status_code == 303
    desk.get(answer.headers["Location"])
    assert "A test was sent to admin@example.com" in desk.text
    assert office.plugin("surveys").get("csat").invited == 3  # a test invites no one
    office.mail.deliver()
    tests = [m for m in office.mail.transport.sent if m.recipients == ("admin@example.com",)]
    assert len(tests) == 1 and tests[0].subject.startswith("[Test] ") and "/test" in tests[0].text


def test_the_reminder_counted_then_sent(office: Any, crm_clock: Any) -> None:
    desk = signed_in(office)
    number = survey_id(office)
    office.plugin("surveys").send("csat", "list:customers")
    office.plugin("surveys").answer("csat", office.ids[0], {"recommend": 9})
    desk.get(f"/surveys/{number}/send")
    assert "at least 7 days ago who have not answered. It reaches 0 contacts now." in desk.text
    crm_clock.advance(days=8)
    desk = signed_in(office)  # a week later: the session ended
    desk.get(f"/surveys/{number}/send")
    assert "It reaches 2 contacts now." in desk.text and "Send the reminder to 2 contacts" in desk.text
    answer = desk.post(f"/surveys/{number}/remind")
    assert answer.status_code == 303
    desk.get(answer.headers["Location"])
    assert "A reminder was queued for 2 contacts." in desk.text and "It reaches 0 contacts now." in desk.text


def test_letters_as_one_pdf(office: Any) -> None:
    pypdf = pytest.importorskip("pypdf")
    import io

    contacts = office.plugin("contacts")
    for contact_id in office.ids[:2]:
        contacts.update(
            contact_id, addresses=[{"street": "Gran Vía 1", "city": "Madrid", "postal_code": "28013", "country": "ES"}]
        )
    desk = signed_in(office)
    number = survey_id(office)
    desk.get(f"/surveys/{number}/send")
    got = desk.post(f"/surveys/{number}/letters", {"letters_source": "list:customers"})
    assert got.status_code == 200 and got.headers["Content-Type"] == "application/pdf"
    assert "csat-letters.pdf" in got.headers["Content-Disposition"] and got.headers["X-Surveys-Letters"] == "2"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(got.data)).pages)
    assert "Would you recommend us?" in text and "Gran Vía 1" in text
    desk.get(f"/surveys/{number}/send")
    answer = desk.post(f"/surveys/{number}/letters", {"letters_source": ""})
    assert answer.status_code == 303
    desk.get(answer.headers["Location"])
    assert "Choose the mailing list or segment to print letters for." in desk.text
    contacts.create_list("nobody-here")
    desk.post(f"/surveys/{number}/letters", {"letters_source": "list:nobody-here"})
    desk.get(desk.page.headers["Location"])
    assert "No contact of list:nobody-here can get a letter" in desk.text


def test_a_test_send_to_a_user_without_an_address_says_so(office: Any) -> None:
    office.authz.users.add("nomail", roles=["manager"], password=PASSWORD)
    desk = signed_in(office, "nomail")
    number = survey_id(office)
    desk.get(f"/surveys/{number}/send")
    assert desk.post(f"/surveys/{number}/send?action=test").status_code == 422
    assert "user &#39;nomail&#39; has no e-mail address to send the test to" in desk.text


def test_type_in_a_paper_answer_by_its_code(office: Any) -> None:
    surveys = office.plugin("surveys")
    surveys.send("csat", "list:customers")
    desk = signed_in(office)
    desk.get("/surveys/paper")
    assert desk.post("/surveys/paper", {"code": ""}).status_code == 422
    assert 'id="f-code-note">Type the code printed on the letter.' in desk.text
    desk.get("/surveys/paper?code=NOPE-1234")
    assert desk.page.status_code == 422 and "No letter has the code NOPE-1234" in desk.text
    code = invitation_code(office, office.ids[0])
    desk.get(f"/surveys/paper?code={code}")
    assert "Ana Ruiz" in desk.text and 'name="q-recommend"' in desk.text and "How did we do?" in desk.text
    missing = {"code": code, "q-satisfaction": "4"}
    assert desk.post("/surveys/paper", missing).status_code == 422
    assert re.search(r'id="f-q-recommend-note">[^<]+', desk.text)
    assert 'type="radio" name="q-satisfaction" value="4" checked' in desk.text  # what was typed is kept
    answers = {
        "code": code,
        "q-recommend": "3",
        "q-why": "Too slow",
        "q-topics": ["Offers", "Events"],
        "q-call_back": "yes",
    }
    answer = desk.post("/surveys/paper", answers)
    assert answer.status_code == 303
    desk.get(answer.headers["Location"])
    assert "The answers of Ana Ruiz were saved. They count as negative" in desk.text
    [response] = surveys.responses("csat").items
    assert response.answers["recommend"] == 3 and response.answers["topics"] == ["Offers", "Events"]


def invitation_code(crm: Any, contact_id: int) -> str:
    from crm_surveys.models import Invitation

    with crm.activate():
        invitation = Invitation.get(Invitation.contact_id == contact_id)
    return crm.plugin("surveys").paper_code(invitation.id)


def test_a_paper_code_of_a_contact_out_of_scope_is_unknown(office: Any) -> None:
    office.plugin("surveys").send("csat", "list:customers")
    office.authz.roles.add("clerk", permissions=["surveys.read", "surveys.answers.create", "contacts.read"])
    office.authz.users.add("seller", roles=["sales", "clerk"], password=PASSWORD)
    eva = invitation_code(office, office.ids[2])  # sam's contact
    desk = signed_in(office, "seller")
    desk.get(f"/surveys/paper?code={eva}")
    assert desk.page.status_code == 422 and "No letter has the code" in desk.text and "Eva Ruiz" not in desk.text


def test_the_answers_newest_first_with_the_negative_ones_marked(office: Any) -> None:
    surveys = office.plugin("surveys")
    surveys.send("csat", "list:customers")
    surveys.answer("csat", office.ids[0], {"recommend": 10, "topics": ["Offers", "Events"], "call_back": "yes"})
    surveys.answer("csat", office.ids[1], {"recommend": 2, "why": "Too slow"})
    desk = signed_in(office)
    number = survey_id(office)
    desk.get(f"/surveys/{number}")
    assert f'href="/surveys/{number}/responses"' in desk.text
    desk.get(f"/surveys/{number}/responses")
    page = desk.text
    assert "1–2 of 2 answers" in page
    assert page.index("Luis Ruiz") < page.index("Ana Ruiz")  # newest first
    luis = page[page.index("Luis Ruiz") : page.index("Ana Ruiz")]
    assert "Negative" in luis and "Too slow" in luis and "What should we do better?" in luis
    ana = page[page.index("Ana Ruiz") :]
    assert "Offers, Events" in ana and "May we call you?</span> Yes" in ana and "Negative" not in ana
    assert f'href="/contacts/{office.ids[1]}"' in page  # the card, where a follow-up task shows
    seller = signed_in(office, "u-support")  # support reads its teams' contacts: none of these
    seller.get(f"/surveys/{number}/responses")
    assert "No one has answered yet" in seller.text and "Luis" not in seller.text


def test_the_answers_page_runs_as_many_statements_for_many_answers_as_for_few(office: Any) -> None:
    contacts = office.plugin("contacts")
    surveys = office.plugin("surveys")
    desk = signed_in(office)
    number = survey_id(office)

    def count() -> int:
        desk.get(f"/surveys/{number}/responses")
        with statements(office) as sql:
            desk.get(f"/surveys/{number}/responses")
        return len(sql)

    surveys.answer("csat", office.ids[0], {"recommend": 9})
    few = count()
    for n in range(12):
        person = contacts.create(first_name=f"P{n}", last_name="Bulk", email=f"p{n}@example.com")
        surveys.answer("csat", person.id, {"recommend": n % 11, "topics": ["Offers"]})
    assert count() == few


def test_each_role_opens_the_pages_its_permissions_allow(office: Any) -> None:
    number = survey_id(office)
    pages = {
        "/surveys/": "surveys.read",
        f"/surveys/{number}": "surveys.read",
        f"/surveys/{number}/send": "surveys.send",
        "/surveys/paper": "surveys.answers.create",
        f"/surveys/{number}/results": "surveys.results.run",
        f"/surveys/{number}/responses": "surveys.answers.read",
    }
    wrong = []
    for role in ROLES:
        desk = signed_in(office, f"u-{role}")
        for url, permission in pages.items():
            with office.as_user(office.authz.users.get(f"u-{role}")):
                expected = 200 if office.authz.can(permission) else 403
            got = desk.get(url).status_code
            if got != expected:
                wrong.append(f"{role} {url}: {got}, expected {expected}")
    assert not wrong, wrong


def test_every_post_needs_the_csrf_token(office: Any) -> None:
    desk = signed_in(office)
    number = survey_id(office)
    desk.get(f"/surveys/{number}/send")
    assert (
        desk.post(f"/surveys/{number}/send", {"source": "list:customers", "action": "send"}, csrf=False).status_code
        == 403
    )
    assert desk.post("/surveys/paper", {"code": "x"}, csrf=False).status_code == 403
    assert desk.post(f"/surveys/{number}/remind", csrf=False).status_code == 403
    assert desk.post(f"/surveys/{number}/letters", {"letters_source": "list:customers"}, csrf=False).status_code == 403
    assert office.plugin("surveys").get("csat").invited == 0


def test_the_list_runs_as_many_statements_for_many_surveys_as_for_few(office: Any, definition: dict[str, Any]) -> None:
    desk = signed_in(office)

    def count() -> int:
        desk.get("/surveys/")
        with statements(office) as sql:
            desk.get("/surveys/")
        return len(sql)

    few = count()
    for n in range(8):
        office.plugin("surveys").save({**definition, "key": f"s{n}", "title": f"Survey {n}"})
    assert count() == few


def test_the_pages_speak_spanish(office: Any) -> None:
    desk = signed_in(office)
    desk.get("/")
    desk.post("/language", {"language": "es", "next": "/"})
    desk.get("/surveys/")
    assert "Encuestas" in desk.text and "Introducir respuestas en papel" in desk.text
    desk.get(f"/surveys/{survey_id(office)}/send")
    assert "Comprobar a quién llega" in desk.text


PLUGIN = Path(__file__).resolve().parents[1]


def test_every_desk_page_string_is_in_the_spanish_catalog_and_compiled() -> None:
    check_catalogs(PLUGIN, PLUGIN / "crm_surveys" / "desk" / "translations")


UNHAPPY = {
    "name": "unhappy-customer",
    "trigger": "event",
    "event": "SurveyAnswered",
    "when": {"negative": True},
    "action": "task",
    "task": {"kind": "call", "title": "Call {contact.display_name}: unhappy", "assignee": "{contact.owner}"},
}


def test_a_negative_answer_links_to_the_follow_up_task_a_rule_made(
    crm_factory: Callable[..., Any], definition: dict[str, Any]
) -> None:
    pytest.importorskip("crm_tasks")
    crm = crm_factory(
        plugins=["desk", "contacts", "surveys", "tasks"],
        settings={"surveys": {"secret": "test-secret-for-surveys"}, "tasks": {"rules": [UNHAPPY]}},
        core={"secret": "desk-secret-for-the-surveys-tests-0123456789"},
        mail={"sender": "CRM <crm@example.com>", "unsubscribe_mailto": "unsubscribe@example.com"},
    )
    crm.authz.users.add("boss", roles=["admin"], password=PASSWORD)
    crm.authz.users.add("sam", roles=["sales"], password=PASSWORD)
    crm.authz.users.add("tess", roles=["sales"], password=PASSWORD)
    surveys = crm.plugin("surveys")
    surveys.save(definition)
    contacts = crm.plugin("contacts")
    eva = contacts.create(first_name="Eva", last_name="Ruiz", email="eva@example.com", owner="sam").id
    leo = contacts.create(first_name="Leo", last_name="Ruiz", email="leo@example.com", owner="sam").id
    surveys.answer("csat", eva, {"recommend": 2, "why": "Too slow"})
    surveys.answer("csat", leo, {"recommend": 10})
    [task] = crm.plugin("tasks").list()
    desk = signed_in(crm, "boss")
    page = desk.get(f"/surveys/{survey_id(crm)}/responses").get_data(as_text=True)
    assert page.index("Leo Ruiz") < page.index("Eva Ruiz")  # newest first
    eva_row = page[page.index("Eva Ruiz") :]
    assert '<th scope="col">Follow-up</th>' in page and "it is shown with the answer" in page
    assert f'<a href="/tasks/{task.id}">Call Eva Ruiz: unhappy</a>' in eva_row and "open" in eva_row
    assert page.count('<p class="follow-up">') == 1  # the positive answer made none
    assert desk.get(f"/tasks/{task.id}").status_code == 200
    crm.plugin("tasks").done(task.id)
    assert ">done</span>" in desk.get(f"/surveys/{survey_id(crm)}/responses").get_data(as_text=True)
    # a seller who may read the answers but not the task (it is sam's) is told of none
    crm.plugin("contacts").update(eva, owner="tess")
    seller = signed_in(crm, "tess")
    page = seller.get(f"/surveys/{survey_id(crm)}/responses").get_data(as_text=True)
    assert "Eva Ruiz" in page and "Call Eva Ruiz" not in page and "No follow-up task that you may see." in page
    seller.get("/")
    seller.post("/language", {"language": "es", "next": "/"})
    assert "Ninguna tarea de seguimiento que usted pueda ver." in seller.get(
        f"/surveys/{survey_id(crm)}/responses").get_data(as_text=True)  # fmt: skip


def test_without_the_tasks_plugin_the_answers_page_has_no_follow_ups(office: Any) -> None:
    surveys = office.plugin("surveys")
    surveys.send("csat", "list:customers")
    surveys.answer("csat", office.ids[1], {"recommend": 2, "why": "Too slow"})
    page = signed_in(office).get(f"/surveys/{survey_id(office)}/responses").get_data(as_text=True)
    assert "Negative" in page and "Follow-up" not in page and "it shows on the contact's card" in page

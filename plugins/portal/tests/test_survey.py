"""The survey form: every question kind, conditions with and without the script, required answers, coming back."""

from __future__ import annotations

import copy
import re

import pytest
from werkzeug.datastructures import MultiDict


def survey_url(token: str) -> str:
    return "/surveys/" + token


def shown(text: str) -> list[str]:
    return re.findall(r'name="shown" value="([a-z_]+)"', text)


def hidden_questions(text: str) -> list[str]:
    return re.findall(r'<fieldset class="question[^"]*" id="q-([a-z_]+)"[^>]*\bhidden disabled', text)


@pytest.fixture
def ana(kit, app):
    return kit.add_contact(app)


@pytest.mark.sqlite_only
def test_every_kind_is_shown_with_labels_and_conditions_hidden(kit, app, web, ana):
    token = kit.survey_token(app, ana.id)
    page = web.get(survey_url(token))
    assert page.status_code == 200
    text = web.text
    assert '<h1 id="page-title">How did we do?</h1>' in text and "Two minutes, please." in text
    # NPS 0–10, CSAT 1–5, rating 1–7: one labelled radio per point
    assert [int(n) for n in re.findall(r'name="recommend" value="(\d+)"', text)] == list(range(11))
    assert [int(n) for n in re.findall(r'name="satisfaction" value="(\d+)"', text)] == list(range(1, 6))
    assert [int(n) for n in re.findall(r'name="speed" value="(\d+)"', text)] == list(range(1, 8))
    for n in range(11):
        assert f'<label for="q-recommend-{n}">{n}</label>' in text
    assert "0: Not at all" in text and "10: Certainly" in text
    assert (
        text.count('name="channel" type="radio"') == 0
        and len(re.findall(r'type="radio" id="q-channel-\d" name="channel"', text)) == 3
    )
    assert len(re.findall(r'type="checkbox" id="q-topics-\d" name="topics"', text)) == 3
    assert 'name="call_back" value="yes"' in text and 'name="call_back" value="no"' in text
    assert '<textarea id="q-why-text" name="why" rows="4" maxlength="500" required>' in text
    assert '<label for="q-why-text" class="visually-hidden">' in text
    # the conditional questions are on the page, hidden and disabled, with their condition for the script
    assert hidden_questions(text) == ["why", "when"]
    assert (
        'data-show-if="{&#34;question&#34;: &#34;recommend&#34;, &#34;op&#34;: &#34;&lt;=&#34;, &#34;value&#34;: 6}"'
        in text
    )
    assert shown(text) == ["recommend", "satisfaction", "speed", "channel", "topics", "call_back"]


def test_answers_are_saved_and_shown_again_when_he_comes_back(kit, app, web, ana):
    token = kit.survey_token(app, ana.id)
    web.get(survey_url(token))
    data = MultiDict(
        [
            ("recommend", "9"),
            ("satisfaction", "4"),
            ("speed", "6"),
            ("channel", "E-mail"),
            ("topics", "Offers"),
            ("topics", "Events"),
            ("call_back", "yes"),
            ("when", "Mornings"),
            *[
                ("shown", key)
                for key in ("recommend", "satisfaction", "speed", "channel", "topics", "call_back", "when")
            ],
        ]
    )
    saved = web.post(survey_url(token), list(data.items(multi=True)))
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/surveys/{token}/thanks")
    thanks = web.get(saved.headers["Location"])
    assert thanks.status_code == 200 and "Thank you for your answers" in web.text
    form = app.plugin("surveys").form(token)
    assert form.complete and form.answers == {
        "recommend": 9,
        "satisfaction": 4,
        "speed": 6,
        "channel": "E-mail",
        "topics": ["Offers", "Events"],
        "call_back": True,
        "when": "Mornings",
    }
    back = web.get(survey_url(token))
    assert back.status_code == 200 and "You answered on" in web.text and "Update my answers" in web.text
    assert re.search(r'name="recommend" value="9" checked', web.text)
    assert re.search(r'name="topics" value="Offers" checked', web.text) and re.search(
        r'name="topics" value="Events" checked', web.text
    )
    assert 'name="call_back" value="yes" checked' in web.text and "when" not in hidden_questions(web.text)
    # changing the answer updates it
    web.post(
        survey_url(token), [("recommend", "10"), ("call_back", "no"), ("shown", "recommend"), ("shown", "call_back")]
    )
    form = app.plugin("surveys").form(token)
    assert form.answers == {"recommend": 10, "call_back": False}


def test_without_the_script_a_newly_relevant_question_is_shown_before_saving(kit, app, web, ana):
    token = kit.survey_token(app, ana.id)
    web.get(survey_url(token))
    page = web.post(survey_url(token), [("recommend", "3"), *[("shown", k) for k in shown(web.text)]])
    assert page.status_code == 200 and "more questions apply to you" in web.text
    assert "why" not in hidden_questions(web.text) and "why" in shown(web.text)
    assert 'id="q-why" data-key="why" data-kind="text"' in web.text and "data-focus" in web.text
    assert app.plugin("surveys").form(token).answers == {}  # nothing saved yet
    # the required follow-up is enforced by the server
    missing = web.post(survey_url(token), [("recommend", "3"), *[("shown", k) for k in shown(web.text)]])
    assert missing.status_code == 400 and 'id="q-why-error"' in web.text and "Please answer this question." in web.text
    done = web.post(
        survey_url(token), [("recommend", "3"), ("why", "Faster delivery"), *[("shown", k) for k in shown(web.text)]]
    )
    assert done.status_code == 303
    assert app.plugin("surveys").form(token).answers == {"recommend": 3, "why": "Faster delivery"}


@pytest.mark.sqlite_only
def test_an_answer_to_a_hidden_question_is_dropped(kit, app, web, ana):
    token = kit.survey_token(app, ana.id)
    web.get(survey_url(token))
    page = web.post(
        survey_url(token), [("recommend", "10"), ("why", "sneaky"), ("shown", "recommend"), ("shown", "why")]
    )
    assert page.status_code == 303
    assert app.plugin("surveys").form(token).answers == {"recommend": 10}


BAD_ANSWERS = [
    ([], "recommend", "Please answer this question."),
    ([("recommend", "11")], "recommend", "Choose a number from 0 to 10."),
    ([("recommend", "9"), ("satisfaction", "0")], "satisfaction", "Choose a number from 1 to 5."),
    ([("recommend", "9"), ("speed", "8")], "speed", "Choose a number from 1 to 7."),
    ([("recommend", "9"), ("channel", "Fax")], "channel", "Choose one of the options."),
    ([("recommend", "9"), ("topics", "Offers"), ("topics", "Bribes")], "topics", "Choose among the options offered."),
    ([("recommend", "9"), ("call_back", "maybe")], "call_back", "Answer yes or no."),
    ([("recommend", "2"), ("why", "x" * 501)], "why", "Write at most 500 characters (this has 501)."),
]


def test_bad_answers_come_back_with_400_and_nothing_is_saved(kit, app, web, ana):
    token = kit.survey_token(app, ana.id)
    web.get(survey_url(token))
    keys = ["recommend", "why", "satisfaction", "speed", "channel", "topics", "call_back"]
    for answers, key, message in BAD_ANSWERS:
        page = web.post(survey_url(token), [*answers, *[("shown", k) for k in keys]])
        assert page.status_code == 400, answers
        assert f'id="q-{key}-error"' in web.text and message in web.text, answers
    assert app.plugin("surveys").form(token).answers == {}


def test_script_in_a_free_text_answer_is_stored_as_text_and_shown_escaped(kit, app, web, ana):
    token = kit.survey_token(app, ana.id)
    web.get(survey_url(token))
    evil = '</textarea><script>alert("x")</script>'
    web.post(survey_url(token), [("recommend", "1"), ("why", evil), ("shown", "recommend"), ("shown", "why")])
    assert app.plugin("surveys").form(token).answers["why"] == evil
    web.get(survey_url(token))
    assert "<script>alert" not in web.text
    assert "&lt;/textarea&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in web.text


@pytest.mark.sqlite_only
def test_refused_survey_links(kit, app, web, ana, crm_clock):
    token = kit.survey_token(app, ana.id)
    assert web.get(survey_url(token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:])).status_code == 403
    assert web.get(survey_url("nonsense")).status_code == 403
    # another contact's id in the token: the signature breaks
    bob = kit.add_contact(app, first_name="Bob", email="bob@example.com", phone="+34699111555")
    other = app.plugin("surveys").token(kit.SURVEY["key"], bob.id).split(".")[0] + "." + token.split(".")[1]
    assert web.get(survey_url(other)).status_code == 403
    assert web.get(survey_url(token) + "/thanks").status_code in (303, 302)  # not answered yet: back to the form
    crm_clock.advance(days=31)
    page = web.get(survey_url(token))
    assert page.status_code == 410 and "This link has expired" in web.text
    assert web.client.post(survey_url(token), data={"recommend": "9"}).status_code in (403, 410)


def test_a_link_whose_contact_was_erased_is_gone(kit, app, web, ana):
    token = kit.survey_token(app, ana.id)
    app.plugin("contacts").erase(ana.id)
    page = web.get(survey_url(token))
    assert page.status_code == 404


def test_posts_are_rate_limited_per_client_address(kit, portal_app, crm_clock):
    crm = portal_app(limits={"survey": "3/hour"})
    web = kit.Web(crm)
    ana = kit.add_contact(crm)
    token = kit.survey_token(crm, ana.id)
    web.get(survey_url(token))
    codes = [web.post(survey_url(token), [("recommend", "9"), ("shown", "recommend")]).status_code for _ in range(4)]
    assert codes == [303, 303, 303, 429]
    assert "Too many attempts" in web.text and int(web.page.headers["Retry-After"]) > 0
    other = web.client.post(
        survey_url(token),
        data={"recommend": "9", "shown": "recommend", "csrf_token": web.csrf()},
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert other.status_code == 303  # another address has its own count
    crm_clock.advance(hours=2)
    assert web.post(survey_url(token), [("recommend", "9"), ("shown", "recommend")]).status_code == 303


@pytest.mark.sqlite_only
def test_the_survey_page_speaks_the_contacts_language(kit, app, web):
    pepa = kit.add_contact(app, first_name="Pepa", email="pepa@example.com", phone="+34699111333", language="es-ES")
    token = kit.survey_token(app, pepa.id)
    web.get(survey_url(token), headers={"Accept-Language": "en-GB"})
    assert '<html lang="es">' in web.text and "Enviar mis respuestas" in web.text
    definition = copy.deepcopy(kit.SURVEY)
    assert definition["title"] in web.text  # staff's texts are shown as written

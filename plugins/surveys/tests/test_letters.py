"""Paper letters: the PDF (address in the window, questions, code and QR), and entering the answers."""

from __future__ import annotations

import pytest
from pypdf import PdfReader

from crm_core.errors import NotFoundError
from crm_surveys.tokens import CodeError

MM = 72 / 25.4


@pytest.fixture
def mailing(app, people, definition):
    """A list with three postal contacts, one without an address and one do-not-contact."""
    contacts = app.plugin("contacts")
    contacts.create_list("customers")
    ids = [people.add(address=True) for _ in range(3)]
    ids.append(people.add(address=False))
    ids.append(people.add(address=True, do_not_contact=True))
    contacts.add_to_list("customers", ids)
    app.plugin("surveys").save(definition)
    return ids


def page_texts(path):
    """Each text run of each page with its position: (text, x, y) in points from the bottom left."""
    pages = []
    for page in PdfReader(str(path)).pages:
        runs = []

        def visit(text, cm, tm, font, size, runs=runs):
            if text.strip():
                # the text matrix holds the position, or the current matrix does (platypus)
                x, y = (tm[4], tm[5]) if (tm[4] or cm[4] == 0) else (cm[4], cm[5])
                runs.append((text.strip(), x, y))

        page.extract_text(visitor_text=visit)
        pages.append(runs)
    return pages


@pytest.mark.sqlite_only  # PDF layout; the invitations behind it are tested on every backend
def test_one_letter_per_recipient_with_the_address_in_the_window(app, mailing, tmp_path):
    api = app.plugin("surveys")
    report = api.letters("csat", "customers", tmp_path)
    assert (report.letters, report.new, report.reprinted) == (3, 3, 0)
    assert (report.no_address, report.do_not_contact) == (1, 1)
    assert len(report.files) == 3 and all(f.exists() for f in report.files)
    card = app.plugin("contacts").card(mailing[0])
    path = report.files[0]
    pages = page_texts(path)
    first = pages[0]
    page_height = 297 * MM
    window_top, window_bottom = page_height - 45 * MM, page_height - 45 * MM - 45 * MM
    for line in card.address.lines():
        placed = [(x, y) for text, x, y in first if text == line]
        assert placed, f"{line!r} is not on the first page"
        x, y = placed[0]
        assert abs(x - 20 * MM) < 1, "the address starts 20 mm from the left"
        assert window_bottom < y < window_top, "the address sits in the envelope's window"
    everything = " ".join(text for page in pages for text, _, _ in page)
    code = path.stem.removeprefix("csat-")
    assert code in everything
    for question in api.definition("csat").questions:
        assert question.text in everything
    assert "Answer only if your answer to question 1 was at most 6." in everything
    assert all(f"code {code}" in " ".join(t for t, _, _ in page) for page in pages), "every page names the code"
    # the QR code is drawn as one filled rectangle per dark module, beside 18 tick boxes
    content = PdfReader(str(path)).pages[0].get_contents().get_data()
    assert content.count(b" re") > 100


def test_letters_are_reprinted_with_the_same_codes_and_can_be_combined(app, mailing, tmp_path):
    api = app.plugin("surveys")
    first = api.letters("csat", "customers", tmp_path / "a")
    again = api.letters("csat", "customers", tmp_path / "b", combined=True)
    assert (again.new, again.reprinted, again.letters) == (0, 3, 3)
    assert len(again.files) == 1
    pages = page_texts(again.files[0])
    text = " ".join(t for page in pages for t, _, _ in page)
    for path in first.files:
        assert path.stem.removeprefix("csat-") in text
    assert len(pages) >= 3
    with app.activate():
        from crm_surveys.models import Invitation

        assert Invitation.select().where(Invitation.medium == "post").count() == 3
    events = app.events.recent(limit=50, type_name="SurveySent")
    assert len(events) == 3 and {e["payload"]["medium"] for e in events} == {"post"}


def test_enter_the_answers_of_a_paper_letter(app, mailing, tmp_path):
    api = app.plugin("surveys")
    report = api.letters("csat", "customers", tmp_path)
    code = report.files[0].stem.removeprefix("csat-")
    form = api.paper_form(code.lower())
    assert form.contact_id == mailing[0] and not form.complete
    saved = api.enter_paper(
        code, {"recommend": "4", "why": "Late delivery", "channel": "1", "topics": ["1", "3"]}, actor="pepe"
    )
    assert saved.values == {
        "recommend": 4,
        "why": "Late delivery",
        "channel": "Phone",
        "topics": ["Products", "Events"],
    }
    event = app.events.recent(limit=1, type_name="SurveyAnswered")[0]["payload"]
    assert (event["channel"], event["actor"], event["negative"]) == ("staff", "pepe", True)
    results = api.results("csat")
    assert (results.overall.invited, results.overall.answered_invitations, results.overall.response_rate) == (
        3,
        1,
        33.3,
    )
    with app.activate():
        from crm_surveys.models import Response

        assert Response.get_by_id(saved.response_id).channel == "paper"


def test_bad_paper_codes(app, mailing, tmp_path):
    api = app.plugin("surveys")
    code = api.letters("csat", "customers", tmp_path).files[0].stem.removeprefix("csat-")
    body, check = code.split("-")
    with pytest.raises(CodeError, match="mistyped"):
        api.enter_paper(f"{body}-{check[::-1] if check[::-1] != check else 'ZZZ'}", {"recommend": 5})
    with pytest.raises(NotFoundError, match="names no invitation in this CRM"):
        api.paper_form(api.paper_code(999))


def test_letters_for_an_unknown_list(app, mailing, tmp_path):
    with pytest.raises(NotFoundError):
        app.plugin("surveys").letters("csat", "nobody", tmp_path)


@pytest.mark.sqlite_only  # PDF layout; the invitations behind it are tested on every backend
def test_letter_settings_us_letter_and_another_window(surveys_app, tmp_path, definition):
    app = surveys_app(
        letters={
            "page_size": "letter",
            "address_left_mm": 25,
            "address_top_mm": 50,
            "return_address": "ACME, 1 Main St",
        }
    )
    contacts = app.plugin("contacts")
    contacts.create_list("us")
    ana = contacts.create(
        first_name="Ann",
        last_name="Lee",
        addresses=[
            {"street": "2 Oak Ave", "postal_code": "10001", "city": "New York", "country": "US", "primary": True}
        ],
    ).id
    contacts.add_to_list("us", [ana])
    app.plugin("surveys").save(definition)
    path = app.plugin("surveys").letters("csat", "us", tmp_path).files[0]
    reader = PdfReader(str(path))
    assert round(float(reader.pages[0].mediabox.height)) == 792  # US letter
    first = page_texts(path)[0]
    x, y = next((x, y) for text, x, y in first if text == "2 Oak Ave")
    assert abs(x - 25 * MM) < 1 and 792 - 50 * MM - 45 * MM < y < 792 - 50 * MM
    assert any(text == "ACME, 1 Main St" for text, _, _ in first)

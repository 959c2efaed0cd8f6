"""The results page of the desk: NPS, CSAT and the answers' distributions by period and by region, as charts and tables.

The charts are the analytics plugin's (``ChartsAPI.draw_chart``): the tests
catch the :class:`~crm_hookspecs.records.Chart` the page hands it, to read
its labels, gaps and words, and check that what comes back is an SVG.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

from crm_core.testing import statements

pytest.importorskip("crm_desk")

from crm_desk.testing import DeskClient  # noqa: E402

PASSWORD = "Correct-horse-42!"


def make_office(crm_factory: Callable[..., Any], definition: dict[str, Any], *, analytics: bool = True) -> Any:
    """The desk, contacts and surveys (and the analytics plugin, which draws the charts); three customers."""
    plugins = ["desk", "contacts", "surveys"] + (["warehouse", "analytics"] if analytics else [])
    crm = crm_factory(
        plugins=plugins,
        settings={"surveys": {"secret": "test-secret-for-surveys"}},
        core={"secret": "desk-secret-for-the-surveys-tests-0123456789"},
        mail={"sender": "CRM <crm@example.com>", "unsubscribe_mailto": "unsubscribe@example.com"},
    )
    crm.authz.users.add("boss", roles=["admin"], password=PASSWORD)
    crm.authz.users.add("seller", roles=["sales"], password=PASSWORD)
    crm.plugin("surveys").save(definition)
    contacts = crm.plugin("contacts")
    contacts.create_list("customers")
    crm.ids = [
        contacts.create(first_name=name, last_name="Ruiz", email=f"{name.lower()}@example.com", region=region,
                        owner=owner).id
        for name, region, owner in (("Ana", "Madrid", "seller"), ("Luis", "Madrid", "seller"), ("Eva", None, "boss"))
    ]  # fmt: skip
    contacts.add_to_list("customers", crm.ids)
    crm.plugin("surveys").send("csat", "list:customers")
    return crm


@pytest.fixture
def office(crm_factory: Callable[..., Any], definition: dict[str, Any], crm_clock: Any) -> Any:
    """Answers in 2026-Q1 (Ana, Eva) and 2026-Q3 (Luis), none in 2026-Q2: a gap between them."""
    pytest.importorskip("crm_analytics")
    crm = make_office(crm_factory, definition)
    answer(crm, crm.ids[0], recommend=10, satisfaction=5, channel="Phone")
    answer(crm, crm.ids[2], recommend=2, satisfaction=1, channel="Shop", why="Too slow")
    crm_clock.set(dt.datetime(2026, 7, 14, 9, 0, tzinfo=dt.UTC))
    answer(crm, crm.ids[1], recommend=8, satisfaction=4, channel="Phone", topics=["Offers"])
    return crm


def answer(crm: Any, contact_id: int, **answers: Any) -> None:
    crm.plugin("surveys").answer("csat", contact_id, answers)


def signed_in(crm: Any, name: str = "boss") -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def number(crm: Any) -> int:
    return crm.plugin("surveys").get("csat").id


@pytest.fixture
def drawn(office: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every Chart the pages hand the analytics plugin to draw, in order."""
    analytics = office.plugin("analytics")
    draw = analytics.draw_chart
    seen: list[Any] = []

    def record(chart: Any, fmt: str = "svg") -> bytes:
        seen.append(chart)
        return draw(chart, fmt)

    monkeypatch.setattr(analytics, "draw_chart", record)
    return seen


def rows(page: str, table_id: str) -> list[list[str]]:
    """The cells of each body row of the first table in the section ``table_id``, as text."""
    section = page[page.index(f'id="{table_id}"') :]
    body = section[section.index("<tbody>") : section.index("</tbody>")]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_figures_by_quarter_in_order_with_the_empty_quarter_a_gap(office: Any, drawn: list[Any]) -> None:
    desk = signed_in(office)
    survey = number(office)
    desk.get(f"/surveys/{survey}/results")
    page = desk.text
    assert "3 invited, 3 answered (100 %)" in page and "<strong>NPS 0</strong>" in page
    # the quarter without answers is a row of dashes between the others, not left out and not a zero
    assert rows(page, "by-period") == [
        ["2026-Q1", "3", "2", "100 %", "0", "50 %"],  # the three invited in January all answered, one in July
        ["2026-Q2", "0", "0", "–", "–", "–"],
        ["2026-Q3", "0", "1", "–", "0", "100 %"],
    ]
    chart = f"/surveys/{survey}/results/chart/score/period/recommend.svg?period=quarter"
    assert f'src="{chart.replace("&", "&amp;")}"' in page
    assert (
        'alt="Chart of the NPS by quarter, “Would you recommend us?”. The table below holds the same figures."' in page
    )
    answer = desk.get(chart)
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert answer.data.lstrip().startswith(b"<?xml") and b"<svg" in answer.data[:500]
    assert "script-src" not in answer.headers["Content-Security-Policy"]  # default-src 'none': nothing in it runs
    [nps] = drawn
    assert (nps.title, nps.kind, nps.x_label) == ("NPS per quarter: Would you recommend us?", "line", "Quarter")
    assert nps.labels == ("2026-Q1", "2026-Q2", "2026-Q3")
    assert [s.values for s in nps.series] == [(0.0, None, 0.0)]  # the gap is None, drawn as a break in the line
    assert (nps.y_min, nps.y_max) == (-100, 100)


def test_the_answers_by_region_as_shares_with_the_contacts_without_a_region_last(office: Any, drawn: list[Any]) -> None:
    desk = signed_in(office)
    survey = number(office)
    page = desk.get(f"/surveys/{survey}/results").get_data(as_text=True)
    # NPS answers compared in their three groups; every cell its share and its count
    assert rows(page, "by-region-recommend") == [
        ["Madrid", "2", "0 % (0)", "50 % (1)", "50 % (1)"],
        ["(no region)", "1", "100 % (1)", "0 % (0)", "0 % (0)"],
    ]
    assert rows(page, "by-region-channel")[0] == ["Madrid", "2", "100 % (2)", "0 % (0)", "0 % (0)"]
    assert desk.get(f"/surveys/{survey}/results/chart/answers/region/recommend.svg").status_code == 200
    assert desk.get(f"/surveys/{survey}/results/chart/answers/region/topics.svg").status_code == 200
    groups, topics = drawn
    assert (groups.kind, groups.labels) == ("stacked", ("Madrid", "(no region)"))
    assert [(s.name, s.values) for s in groups.series] == [
        ("Detractors (0–6)", (0.0, 100.0)),
        ("Passives (7–8)", (50.0, 0.0)),
        ("Promoters (9–10)", (50.0, 0.0)),
    ]
    # a multiple choice's shares add up to more than 100 %: side by side, not stacked
    assert topics.kind == "bar" and [s.name for s in topics.series] == ["Products", "Offers", "Events"]
    # the scores by region and quarter together, a column per quarter
    assert rows(page, "by-region-and-period") == [["Madrid", "100", "–", "0"], ["(no region)", "-100", "–", "–"]]


def test_every_answer_with_its_distribution_chart_and_the_free_text(office: Any, drawn: list[Any]) -> None:
    desk = signed_in(office)
    survey = number(office)
    page = desk.get(f"/surveys/{survey}/results").get_data(as_text=True)
    assert re.search(
        r'<th scope="row">Phone</th><td data-label="Answers">2</td><td data-label="Share">66.7 %</td>', page
    )
    assert re.search(r'<th scope="row">Yes</th><td data-label="Answers">0</td>', page)  # yes/no in words
    assert "“Too slow”" in page and f'href="/surveys/{survey}/responses"' in page
    assert desk.get(f"/surveys/{survey}/results/chart/answers/all/channel.png").mimetype == "image/png"
    [channel] = drawn
    assert channel.labels == ("Phone", "E-mail", "Shop") and channel.series[0].values == (2.0, 0.0, 1.0)
    # no chart of a free-text question, of a score of a choice, of a question the survey lacks, of nothing answered
    for wrong in ("answers/all/why", "score/period/channel", "answers/region/nothing", "answers/all/call_back"):
        assert desk.get(f"/surveys/{survey}/results/chart/{wrong}.svg").status_code == 404, wrong
    assert "results/chart/answers/all/call_back" not in page  # nobody answered it: no chart offered


def test_a_seller_sees_the_figures_of_their_contacts_only(office: Any, drawn: list[Any]) -> None:
    desk = signed_in(office, "seller")
    survey = number(office)
    page = desk.get(f"/surveys/{survey}/results").get_data(as_text=True)
    assert "2 invited, 2 answered" in page and "Too slow" not in page and "(no region)" not in page
    desk.get(f"/surveys/{survey}/results/chart/answers/region/recommend.svg")
    [chart] = drawn
    assert chart.labels == ("Madrid",)


def test_the_month_picker_fills_every_month_between(office: Any, drawn: list[Any]) -> None:
    desk = signed_in(office)
    survey = number(office)
    page = desk.get(f"/surveys/{survey}/results?period=month").get_data(as_text=True)
    assert [row[0] for row in rows(page, "by-period")] == [f"2026-{m:02d}" for m in range(1, 8)]
    assert "By region and month" in page
    desk.get(f"/surveys/{survey}/results/chart/score/period/satisfaction.svg?period=month")
    [csat] = drawn
    assert csat.series[0].values == (50.0, None, None, None, None, None, 100.0)
    assert desk.get(f"/surveys/{survey}/results?period=decade").status_code == 200  # an unknown one: quarters


def test_charts_need_the_permission_to_run_reports(office: Any) -> None:
    survey = number(office)
    office.authz.roles.add("surveyor", permissions=["surveys.read", "surveys.results.run", "contacts.read"])
    office.authz.users.add("carla", roles=["surveyor"], password=PASSWORD)
    desk = signed_in(office, "carla")
    page = desk.get(f"/surveys/{survey}/results").get_data(as_text=True)
    assert "<img" not in page and "Charts are drawn for those who may run reports" in page
    assert desk.get(f"/surveys/{survey}/results/chart/score/period/recommend.svg").status_code == 403
    assert (
        signed_in(office, "seller").get(f"/surveys/{survey}/results/chart/score/period/recommend.svg").status_code
        == 200
    )


def test_without_the_analytics_plugin_the_tables_stand_alone(
    crm_factory: Callable[..., Any], definition: dict[str, Any]
) -> None:
    alone = make_office(crm_factory, definition, analytics=False)
    answer(alone, alone.ids[0], recommend=9)
    desk = signed_in(alone)
    page = desk.get(f"/surveys/{number(alone)}/results").get_data(as_text=True)
    assert "<img" not in page and "the analytics plugin, which is not installed" in page
    assert rows(page, "by-period") == [["2026-Q1", "3", "1", "33.3 %", "100", "–"]]  # the tables all the same
    assert desk.get(f"/surveys/{number(alone)}/results/chart/score/period/recommend.svg").status_code == 404


def test_the_page_and_its_charts_speak_spanish(office: Any, drawn: list[Any]) -> None:
    desk = signed_in(office)
    survey = number(office)
    desk.get("/")
    desk.post("/language", {"language": "es", "next": "/"})
    page = desk.get(f"/surveys/{survey}/results").get_data(as_text=True)
    assert "Por trimestre" in page and "Por región" in page and "(sin región)" in page
    assert "Detractores (0–6)" in page and "CSAT 66,7 %" in page and "Respuestas de texto libre" in page
    desk.get(f"/surveys/{survey}/results/chart/answers/period/recommend.svg")
    [chart] = drawn
    assert chart.title == "Respuestas por trimestre: Would you recommend us?"
    assert (chart.x_label, chart.y_label) == ("Trimestre", "Proporción de las respuestas (%)")


def test_the_page_runs_as_many_statements_for_many_answers_as_for_few(office: Any) -> None:
    desk = signed_in(office)
    survey = number(office)

    def count() -> int:
        desk.get(f"/surveys/{survey}/results")
        with statements(office) as sql:
            desk.get(f"/surveys/{survey}/results")
        return len(sql)

    few = count()
    contacts = office.plugin("contacts")
    for n in range(15):
        person = contacts.create(first_name=f"P{n}", last_name="Bulk", region=f"R{n % 4}", email=f"p{n}@example.com")
        answer(office, person.id, recommend=n % 11, satisfaction=1 + n % 5, topics=["Offers"], why=f"text {n}")
    assert count() == few

"""Results: NPS, CSAT, means, choices, free text, response rate, per region and period, per version."""

from __future__ import annotations

import pytest

from crm_core.errors import ValidationError

#: (region, month offset, recommend, satisfaction, channel, topics, call_back, why)
ANSWERS = [
    ("ES", 0, 10, 5, "Phone", ["Offers"], True, None),
    ("ES", 0, 9, 4, "Phone", ["Offers", "Events"], False, None),
    ("ES", 0, 8, 4, "E-mail", [], None, None),
    ("ES", 3, 3, 1, "Shop", ["Products"], True, "Rude staff"),
    ("FR", 0, 6, 2, "Phone", ["Offers"], False, "Too slow"),
    ("FR", 3, 10, 5, None, ["Events"], True, None),
    ("FR", 3, 0, 3, "E-mail", [], None, "Never again"),
    (None, 4, 7, 4, "Shop", ["Products", "Offers", "Events"], True, None),
]


@pytest.fixture
def answered(app, people, definition, crm_clock):
    """The answers above, given month by month from January 2026."""
    api = app.plugin("surveys")
    api.save(definition)
    start = crm_clock.now()
    for region, offset, recommend, satisfaction, channel, topics, call_back, why in sorted(ANSWERS, key=lambda a: a[1]):
        when = start.replace(month=start.month + offset)
        if when > crm_clock.now():
            crm_clock.set(when)
        contact = people.add(region=region) if region else people.add(region=None)
        given = {
            "recommend": recommend,
            "satisfaction": satisfaction,
            "channel": channel,
            "topics": topics,
            "call_back": call_back,
            "why": why,
        }
        api.answer("csat", contact, {k: v for k, v in given.items() if v is not None})
    return api


def figures(segment, key):
    return next(q for q in segment.questions if q.key == key)


def test_overall_figures(answered):
    results = answered.results("csat")
    overall = results.overall
    assert overall.responses == 8 and results.versions == (1,)
    nps = figures(overall, "recommend")
    # promoters 10, 9, 10 = 3; detractors 3, 6, 0 = 3; 8 answers
    assert (nps.answered, nps.promoters, nps.passives, nps.detractors, nps.nps) == (8, 3, 2, 3, 0.0)
    assert nps.mean == round((10 + 9 + 8 + 3 + 6 + 10 + 0 + 7) / 8, 2)
    assert nps.distribution["10"] == 2 and nps.distribution["5"] == 0 and len(nps.distribution) == 11
    csat = figures(overall, "satisfaction")
    # 4 and 5 are satisfied: 5, 4, 4, 5, 4 = 5 of 8
    assert (csat.answered, csat.satisfied, csat.csat) == (8, 5, 62.5)
    channel = figures(overall, "channel")
    assert channel.answered == 7 and channel.distribution == {"Phone": 3, "E-mail": 2, "Shop": 2}
    topics = figures(overall, "topics")
    assert topics.answered == 6 and topics.distribution == {"Products": 2, "Offers": 4, "Events": 3}
    yes_no = figures(overall, "call_back")
    assert yes_no.answered == 6 and yes_no.distribution == {"yes": 4, "no": 2}
    why = figures(overall, "why")
    # "Too slow" came with a 6, "Rude staff" with a 3, "Never again" with a 0: all shown
    assert why.answered == 3
    assert [t.text for t in why.texts] == ["Never again", "Rude staff", "Too slow"]
    speed = figures(overall, "speed")
    assert speed.answered == 0 and speed.mean is None and speed.distribution == {str(v): 0 for v in range(1, 11)}


def test_per_region_and_quarter(answered):
    results = answered.results("csat", by=["region", "quarter"])
    names = [s.name for s in results.segments]
    assert names == ["(none) / 2026-Q2", "ES / 2026-Q1", "ES / 2026-Q2", "FR / 2026-Q1", "FR / 2026-Q2"]
    es_q1 = results.segments[1]
    assert es_q1.labels == {"region": "ES", "quarter": "2026-Q1"} and es_q1.responses == 3
    assert figures(es_q1, "recommend").nps == round(100 * (2 - 0) / 3, 1)
    fr_q2 = results.segments[4]
    assert figures(fr_q2, "recommend").nps == 0.0 and figures(fr_q2, "satisfaction").csat == 50.0
    by_month = answered.results("csat", by=["month"])
    assert [s.name for s in by_month.segments] == ["2026-01", "2026-04", "2026-05"]
    by_year = answered.results("csat", by=["year"])
    assert [(s.name, s.responses) for s in by_year.segments] == [("2026", 8)]


def test_since_and_until_are_months(answered):
    spring = answered.results("csat", since="2026-04", until="2026-04")
    assert spring.overall.responses == 3
    assert figures(spring.overall, "recommend").answered == 3
    with pytest.raises(ValidationError, match=r"--since '2026-4' is not a month: write it as YYYY-MM"):
        answered.results("csat", since="2026-4")
    with pytest.raises(ValidationError, match="is after --until"):
        answered.results("csat", since="2026-05", until="2026-01")
    with pytest.raises(ValidationError, match="cannot break results down by 'week'"):
        answered.results("csat", by=["week"])


def test_free_text_limit(answered):
    results = answered.results("csat", texts=1)
    assert [t.text for t in figures(results.overall, "why").texts] == ["Never again"]
    assert figures(answered.results("csat", texts=0).overall, "why").texts == ()


def test_results_per_version(answered, definition, people):
    definition["questions"][4]["choices"] = ["Phone", "Chat"]
    assert answered.save(definition).version == 2
    answered.answer("csat", people.add(region="ES"), {"recommend": 10, "channel": "Chat"})
    both = answered.results("csat")
    assert both.versions == (1, 2) and both.overall.responses == 9
    # the newest wording lists its choices first, and old choices still count
    assert figures(both.overall, "channel").distribution == {"Phone": 3, "Chat": 1, "E-mail": 2, "Shop": 2}
    second = answered.results("csat", version=2)
    assert second.overall.responses == 1 and figures(second.overall, "recommend").nps == 100.0
    with pytest.raises(ValidationError, match="has no version 7"):
        answered.results("csat", version=7)


def test_rows_for_the_cli(answered):
    rows = answered.results("csat", by=["region"]).rows()
    assert rows[0] == {
        "segment": "all",
        "question": "",
        "kind": "",
        "measure": "invited",
        "answer": None,
        "value": 0,
        "percent": None,
    }
    nps = [r for r in rows if r["segment"] == "all" and r["question"] == "recommend" and r["measure"] == "nps"]
    assert nps[0]["value"] == 0.0
    offers = [r for r in rows if r["segment"] == "ES" and r["answer"] == "Offers"]
    assert offers[0]["value"] == 2 and offers[0]["percent"] == round(100 * 2 / 3, 1)
    texts = [r["value"] for r in rows if r["measure"] == "text"]
    assert texts == ["Never again", "Rude staff", "Too slow"]

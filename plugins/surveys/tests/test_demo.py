"""crm_demo_data: the customer-satisfaction survey with a few hundred answers over six months."""

from __future__ import annotations

import pytest


@pytest.mark.sqlite_only  # big; its sends and answers are tested on every backend
def test_demo_data(app, people, crm_clock):
    contacts = app.plugin("contacts")
    contacts.create_list("newsletter")
    ids = [people.add(region=("ES", "FR", "PT")[i % 3], country="ES" if i % 3 == 0 else None) for i in range(400)]
    contacts.add_to_list("newsletter", ids)
    contacts.create_segment("spanish-customers", {"country": "ES"})
    now = crm_clock.now()
    lines = app.hooks.function("crm_demo_data", "surveys")(crm=app)
    assert lines[0].startswith("survey 'customer-satisfaction'")
    assert "sent to 400 members of 'newsletter'" in lines[1]
    assert lines[2].startswith("320 answers over six months")
    assert any("quarterly send" in line for line in lines)
    assert app.clock is crm_clock and crm_clock.now() == now  # the real clock is back
    results = app.plugin("surveys").results("customer-satisfaction", by=["quarter"])
    assert results.overall.responses == 320 and results.overall.response_rate == 80.0
    assert len(results.segments) >= 2  # the answers are spread over several quarters
    recommend = next(q for q in results.overall.questions if q.key == "recommend")
    assert 0 < recommend.detractors < recommend.promoters
    negatives = [e for e in app.events.recent(limit=400, type_name="SurveyAnswered") if e["payload"]["negative"]]
    assert negatives and all(e["occurred_at"] < now.isoformat() for e in negatives)
    assert len(app.plugin("surveys").schedules()) == 1


def test_demo_without_the_contacts_demo_list(app):
    lines = app.hooks.function("crm_demo_data", "surveys")(crm=app)
    assert lines[-1] == "no mailing list 'newsletter' (enable the contacts plugin's demo): nothing sent"
    assert app.plugin("surveys").get("customer-satisfaction").version == 1

"""``GET /api/v1/events``: the event log from a position, with dotted types, for managers only."""

from __future__ import annotations

from crm_api.events_feed import dotted, undotted
from crm_hookspecs.events import ContactChanged, ContactCreated


def test_dotted_type_names():
    assert dotted("ContactCreated") == "contact.created"
    assert dotted("SaleStageChanged") == "sale.stage.changed"
    assert undotted("contact.created") == "ContactCreated"


def test_the_feed_pages_from_a_position_without_gaps(office):
    crm = office.crm
    for i in range(1, 6):
        crm.emit(ContactCreated(contact_id=i))
    crm.emit(ContactChanged(contact_id=1))
    first = office.get("/api/v1/events?types=contact.created&limit=2", user="boss")
    assert first.status_code == 200, first.json
    events = list(first.json["data"])
    url = first.json["next"]
    while url:
        page = office.get(url, user="boss").json
        events += page["data"]
        url = page["next"]
    assert [e["data"]["contact_id"] for e in events] == [1, 2, 3, 4, 5]
    assert all(e["type"] == "contact.created" and e["occurred_at"].endswith("Z") for e in events)
    resumed = office.get(f"/api/v1/events?after={events[2]['position']}", user="boss").json["data"]
    assert [e["type"] for e in resumed if e["type"].startswith("contact.")] == ["contact.created"] * 2 + [
        "contact.changed"
    ]


def test_the_feed_needs_its_own_permission(office):
    denied = office.get("/api/v1/events")
    assert denied.status_code == 403 and "api.events.feed" in denied.json["detail"]
    bad = office.get("/api/v1/events?after=yesterday", user="boss")
    assert bad.status_code == 400 and bad.json["detail"] == "?after='yesterday' must be a whole number"

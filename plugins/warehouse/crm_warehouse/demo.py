"""Demo data: two years of requests, quotes and sales, with the notes and calls around them.

Loaded after the contacts plugin's demo (the warehouse requires contacts):
the contacts are read from the warehouse's own store of ``ContactCreated``
events, and their owner and region through ``crm.plugin("contacts")``. The
records go through the public API (so every event, stage move and fact row
is real), with the app's clock set back to when each step happened. Seeded,
so every demo is the same.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["load_demo"]

DAYS = 730
RECORDS = 240
NOTES = 120
PRODUCT_LINES = {
    "boilers": (1_500, 12_000),
    "solar": (4_000, 30_000),
    "maintenance": (300, 2_500),
    "consulting": (800, 9_000),
}
TITLES = {
    "boilers": ["Boiler replacement", "Condensing boiler for the plant", "Two backup boilers"],
    "solar": ["Rooftop solar array", "Solar panels for the warehouse", "Solar and battery storage"],
    "maintenance": ["Yearly maintenance contract", "Emergency repair", "Inspection visit"],
    "consulting": ["Energy audit", "Efficiency study", "Subsidy application support"],
}
LOST_REASONS = ["price too high", "chose a competitor", "project postponed", "no budget this year", "no answer"]
CALL_SUBJECTS = ["Follow-up call", "Asked for a discount", "Clarified the delivery date", "Introductory call"]
MEETING_SUBJECTS = ["Site visit", "Presentation of the offer", "Negotiation meeting", "Kick-off meeting"]
EMAIL_SUBJECTS = ["Sent the quote", "Sent the brochure", "Confirmed the appointment", "Answered technical questions"]
NOTE_TEXTS = [
    "Prefers to be called in the morning.",
    "Decision maker is the finance director.",
    "Interested in financing options.",
    "Compared us with two other suppliers.",
    "Happy with the last installation.",
]
BROCHURE = (
    b"%PDF-1.4\n% Demo CRM product brochure: boilers, solar, maintenance and consulting.\n"
    b"1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def _contacts(crm: CRM) -> list[Any]:
    """The demo's contacts, as cards: from the warehouse's store of ContactCreated events."""
    from crm_warehouse.models import EventContactRow as L
    from crm_warehouse.models import EventRow as E

    with crm.activate():
        ids = [
            cid
            for (cid,) in L.select(L.contact_id)
            .join(E, on=(E.id == L.event))
            .where((E.type == "ContactCreated") & L.via_contact_id.is_null())
            .order_by(L.contact_id)
            .tuples()
            .iterator()
        ]
    if not ids or not crm.has_plugin("contacts"):
        return []
    cards = crm.plugin("contacts").cards(ids)
    return [c for c in cards if c.kind == "person"] or list(cards)


def load_demo(crm: CRM, records: int | None = None, notes: int | None = None) -> list[str]:
    """Load ``records`` sales records and ``notes`` loose notes over the last two years; say what was done."""
    records = RECORDS if records is None else records
    notes = NOTES if notes is None else notes
    from crm_core.clock import FakeClock

    # the contacts demo's events reach the store first
    crm.events.deliver(handler="warehouse")
    contacts = _contacts(crm)
    if not contacts:
        return ["no contacts found: the warehouse's demo attaches its sales to the contacts plugin's demo contacts"]
    api = crm.plugin("warehouse")
    pipeline = crm.settings("warehouse").pipeline
    rng = random.Random(5)
    real_clock, real_delivery = crm.clock, crm.deliver_events
    today = real_clock.now()
    # midnight, so that the hours added below fall in office hours
    start = (today - dt.timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    clock = FakeClock(start)
    crm.clock = clock
    # one delivery at the end instead of one per commit: the demo writes a few thousand events
    crm.deliver_events = "worker"
    counts = {"won": 0, "lost": 0, "open": 0, "actions": 0, "documents": 0}
    try:
        with crm.transaction():  # one commit for the whole demo, not one per step
            _generate(api, pipeline, contacts, rng, clock, start, today, counts, records, notes)
    finally:
        crm.clock, crm.deliver_events = real_clock, real_delivery
    crm.events.deliver()
    return [
        f"{records} sales records over {DAYS // 365} years: {counts['won']} won, {counts['lost']} lost, {counts['open']} open",
        f"{counts['actions']} notes, calls, meetings and e-mails",
        f"{counts['documents']} documents attached (one brochure, stored once)",
    ]


def _generate(api: Any, pipeline: Any, contacts: list[Any], rng: random.Random, clock: Any, start: dt.datetime,
              today: dt.datetime, counts: dict[str, int], records: int, notes: int) -> None:  # fmt: skip
    customers = [c for c in contacts if c.status == "customer"] or contacts
    for i in range(records):
        begin = start + dt.timedelta(days=DAYS * i / records, hours=rng.randint(8, 17))
        clock.set(begin)
        contact = rng.choice(customers if rng.random() < 0.5 else contacts)
        line = rng.choice(list(PRODUCT_LINES))
        low, high = PRODUCT_LINES[line]
        kind = rng.choices(["rfq", "rfp", "appointment", "quote", "sale"], weights=[35, 15, 15, 25, 10])[0]
        currency = (
            "EUR" if (contact.country or "ES") not in ("GB", "MX") else {"GB": "GBP", "MX": "MXN"}[contact.country]
        )
        record = api.sales.add(
            kind,
            contact.id,
            title=rng.choice(TITLES[line]),
            amount=decimal.Decimal(rng.randint(low, high)),
            currency=currency,
            product_line=line,
            expected_close_on=(begin + dt.timedelta(days=rng.randint(20, 90))).date(),
            actor=contact.owner or "maria",
            channel="staff",
        )
        owner = record.owner or "maria"
        moment = begin
        # walk through the open stages, a few days to a few weeks each, with calls and meetings on the way
        for stage in pipeline.open_stages[1:]:
            moment += dt.timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 6))
            if moment >= today or rng.random() < 0.18:
                break
            clock.set(moment)
            kind_of_action = rng.choice(["call", "meeting", "email"])
            subject = {"call": CALL_SUBJECTS, "meeting": MEETING_SUBJECTS, "email": EMAIL_SUBJECTS}[kind_of_action]
            api.actions.log(
                kind_of_action,
                sale_id=record.id,
                subject=rng.choice(subject),
                body=rng.choice(NOTE_TEXTS),
                author=owner,
            )
            counts["actions"] += 1
            api.sales.move(record.id, stage, actor=owner)
            if stage == "proposal" and rng.random() < 0.3:
                api.documents.attach(
                    io.BytesIO(BROCHURE), sale_id=record.id, name="brochure.pdf", content_type="application/pdf",
                    uploaded_by=owner, description="Product brochure",
                )  # fmt: skip
                counts["documents"] += 1
        moment += dt.timedelta(days=rng.randint(2, 20))
        if moment < today and rng.random() < 0.85:
            clock.set(moment)
            won = rng.random() < 0.45
            api.sales.close(record.id, won=won, lost_reason=None if won else rng.choice(LOST_REASONS), actor=owner)
            counts["won" if won else "lost"] += 1
        else:
            counts["open"] += 1
    # notes about contacts without a sale in progress
    for _ in range(notes):
        clock.set(start + dt.timedelta(days=rng.uniform(0, DAYS - 1)))
        contact = rng.choice(contacts)
        api.actions.log("note", contact_id=contact.id, body=rng.choice(NOTE_TEXTS), author=contact.owner or "luis")
        counts["actions"] += 1

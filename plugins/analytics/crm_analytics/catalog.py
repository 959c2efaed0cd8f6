"""The views custom reports may read, and their fields with types.

Every table and column name that reaches SQL from a report file comes from
here: a file can only *name* a view or field, which is looked up in this
catalog. The tables are the warehouse's reporting tables and the contacts'
table, by the names and columns those plugins document.
"""

from __future__ import annotations

__all__ = ["VIEWS", "View"]

TEXT, NUMBER, DATE, DATETIME, BOOL = "text", "number", "date", "datetime", "bool"


class View:
    def __init__(self, role: str, title: str, fields: dict[str, str], live_contacts: bool = False) -> None:
        self.role = role
        self.title = title
        self.fields = fields
        #: only contacts that are not deleted or merged away
        self.live_contacts = live_contacts

    @property
    def joins_contacts(self) -> bool:
        return "contact_id" in self.fields and self.role != "contacts"


CONTACT_FIELDS = {
    "id": NUMBER, "kind": TEXT, "status": TEXT, "region": TEXT, "country": TEXT, "owner": TEXT, "language": TEXT,
    "do_not_contact": BOOL, "organization_id": NUMBER, "created_at": DATETIME, "updated_at": DATETIME,
    "status_changed_at": DATETIME,
}  # fmt: skip

VIEWS: dict[str, View] = {
    "sales": View("sales", "sales records, current state (warehouse_sales_fact)", {
        "sale_id": NUMBER, "kind": TEXT, "contact_id": NUMBER, "organization_id": NUMBER, "region": TEXT, "owner": TEXT,
        "product_line": TEXT, "amount": NUMBER, "currency": TEXT, "stage": TEXT, "probability": NUMBER, "outcome": TEXT,
        "won": BOOL, "created_on": DATE, "created_quarter": TEXT, "expected_close_on": DATE, "closed_on": DATE,
        "closed_quarter": TEXT, "lost_reason": TEXT, "updated_at": DATETIME,
    }),
    "survey_answers": View("survey_answers", "one row per numeric survey answer (warehouse_survey_answer_fact)", {
        "response_id": NUMBER, "question": TEXT, "survey_id": NUMBER, "version": NUMBER, "contact_id": NUMBER,
        "score": NUMBER, "negative": BOOL, "region": TEXT, "answered_at": DATETIME, "answered_on": DATE,
        "answered_quarter": TEXT,
    }),
    "survey_responses": View("survey_responses", "one row per completed survey response (warehouse_survey_response)", {
        "response_id": NUMBER, "survey_id": NUMBER, "version": NUMBER, "contact_id": NUMBER, "negative": BOOL,
        "region": TEXT, "answered_at": DATETIME, "answered_on": DATE, "answered_quarter": TEXT,
    }),
    "contact_status": View("contact_status", "contacts' status, region and country over time (warehouse_contact_status)", {
        "contact_id": NUMBER, "status": TEXT, "region": TEXT, "country": TEXT, "deleted": BOOL,
        "valid_from": DATETIME, "valid_to": DATETIME,
    }),
    "contact_changes": View("contact_changes", "the audit trail of changes to contacts (warehouse_contact_change)", {
        "contact_id": NUMBER, "occurred_at": DATETIME, "actor": TEXT, "channel": TEXT, "action": TEXT, "field": TEXT,
    }),
    "events": View("events", "every stored event (warehouse_event)", {
        "type": TEXT, "kind": TEXT, "occurred_at": DATETIME, "actor": TEXT, "channel": TEXT,
    }),
    "contacts": View("contacts", "live contacts, not deleted or merged (the contacts plugin's reporting table)", CONTACT_FIELDS, live_contacts=True),
}  # fmt: skip

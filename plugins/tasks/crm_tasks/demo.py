"""``crm demo``: a few tasks, a recurring template, and a word on the rules."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["load"]


def load(crm: CRM) -> list[str]:
    api = crm.plugin("tasks")
    staff = [m.name for m in api.staff() if m.active]
    contacts = []
    if crm.has_plugin("contacts"):
        # the contacts plugin's demo ran first (dependency order): use its first people
        contacts = [c.id for c in crm.plugin("contacts").cards(list(range(1, 21)))][:6]

    def who(i: int) -> str | None:
        return staff[i % len(staff)] if staff else None

    def contact(i: int) -> int | None:
        return contacts[i % len(contacts)] if contacts else None

    now = crm.now()
    made = [
        api.add(
            "Call to confirm the spring order",
            kind="call",
            assignee=who(0),
            contact_id=contact(0),
            due=now + dt.timedelta(hours=3),
            priority="high",
            questions=[
                "Are the quantities right?",
                "Is the delivery date still good?",
                "Anything else we can help with?",
            ],
        ),
        api.add(
            "Send the updated price list",
            kind="e-mail",
            assignee=who(1),
            contact_id=contact(1),
            due=now - dt.timedelta(days=1),
        ),
        api.add(
            "Quarterly review meeting",
            kind="meeting",
            assignee=who(0),
            contact_id=contact(2),
            due=now + dt.timedelta(days=3),
            checklist=["Book a room", "Print the sales report", "Prepare the agenda"],
        ),
        api.add("Follow up on the trade-fair leads", kind="follow-up", assignee=who(2), due=now + dt.timedelta(days=6)),
        api.add("Clean up duplicate contacts", kind="to-do", due=now + dt.timedelta(days=10), priority="low"),
    ]
    api.check(made[2].id, 1, actor=who(0))
    api.answer(made[0].id, 1, "Yes, confirmed by phone", actor=who(0))
    api.done(made[1].id, actor=who(1))
    start = (now + dt.timedelta(days=(3 - now.weekday()) % 7 or 7)).replace(hour=10, minute=0, second=0, microsecond=0)
    api.add_recurring(
        "weekly-newsletter",
        "Send the weekly newsletter",
        "FREQ=WEEKLY;BYDAY=TH;BYHOUR=10;BYMINUTE=0",
        start=start.replace(tzinfo=None),
        lead="1d",
        kind="e-mail",
        assignee=who(1),
        checklist=["Write", "Proofread", "Send"],
    )
    created = api.run_recurring()
    rules = api.rules().rules
    lines = [
        f"{len(made)} tasks ({', '.join(sorted({t.kind for t in made}))}), 1 done, 1 overdue",
        f"recurring template weekly-newsletter (every Thursday 10:00, {created} occurrence(s) due so far)",
        f"{len(rules)} rule(s): {', '.join(r.name for r in rules) or 'none (see docs/plugins/tasks.md)'}",
    ]
    if not staff:
        lines.append("no users yet: tasks are unassigned (add people with: crm users add NAME)")
    return lines

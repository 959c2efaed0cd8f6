"""Demo data: a customer-satisfaction survey sent to the demo newsletter, a few hundred answers.

The survey goes out six months ago and the answers come in over the
following months (the app's clock is turned back while they are made), so
that results per month and quarter, the warehouse's history and the tasks
plugin's follow-ups of negative answers all have something to show. A
quarterly schedule to the demo segment of Spanish customers is added too.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from crm_core.clock import FakeClock
from crm_core.errors import NotFoundError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["DEMO_SURVEY", "load_demo"]

DEMO_SURVEY: dict[str, Any] = {
    "key": "customer-satisfaction",
    "title": "How did we do?",
    "introduction": "Two minutes of your time help us serve you better.",
    "email": {
        "subject": "{{ first_name or display_name }}, how did we do?",
        "text": (
            "Dear {{ display_name }},\n\n{{ survey.introduction }}\n\nAnswer here: {{ link }}\n"
            "(the link is personal and works until {{ expires_on }})\n"
        ),
    },
    "reminder": {"after_days": 7},
    "questions": [
        {
            "key": "recommend",
            "kind": "nps",
            "text": "How likely are you to recommend us to a friend or colleague?",
            "required": True,
            "min_label": "Not at all likely",
            "max_label": "Extremely likely",
        },
        {
            "key": "why_not",
            "kind": "text",
            "text": "What should we do better?",
            "show_if": {"question": "recommend", "op": "<=", "value": 6},
        },
        {"key": "satisfaction", "kind": "csat", "text": "How satisfied are you with our service?", "required": True},
        {
            "key": "channel",
            "kind": "single_choice",
            "text": "How do you usually contact us?",
            "choices": ["Phone", "E-mail", "In person"],
        },
        {
            "key": "topics",
            "kind": "multiple_choice",
            "text": "What would you like to hear more about?",
            "choices": ["New products", "Offers", "Events"],
        },
        {"key": "call_back", "kind": "yes_no", "text": "May we call you about your answers?"},
    ],
}
ANSWERS = 320
COMPLAINTS = [
    "Delivery took far too long.",
    "Nobody answered the phone.",
    "The invoice was wrong twice.",
    "Prices went up without notice.",
    "The product broke after a week.",
]


def _answer(rng: random.Random) -> dict[str, Any]:
    recommend = rng.choices(range(11), weights=[2, 1, 1, 2, 2, 4, 6, 10, 16, 22, 20])[0]
    satisfaction = max(1, min(5, round(1 + recommend * 0.4) + rng.choice((-1, 0, 0, 0, 1))))
    answer: dict[str, Any] = {"recommend": recommend, "satisfaction": satisfaction}
    if recommend <= 6 and rng.random() < 0.7:
        answer["why_not"] = rng.choice(COMPLAINTS)
    if rng.random() < 0.9:
        answer["channel"] = rng.choices(["Phone", "E-mail", "In person"], weights=[5, 4, 2])[0]
    topics = [t for t in ("New products", "Offers", "Events") if rng.random() < 0.4]
    if topics:
        answer["topics"] = topics
    if rng.random() < 0.6:
        answer["call_back"] = rng.random() < 0.35
    return answer


def load_demo(crm: CRM) -> list[str]:
    from crm_surveys import collect
    from crm_surveys.models import Invitation

    api = crm.plugin("surveys")
    api.save(DEMO_SURVEY)
    lines = ["survey 'customer-satisfaction' (NPS, CSAT, choices, a conditional free-text question)"]
    real_clock = crm.clock
    now = real_clock.now()
    demo_clock = FakeClock((now - dt.timedelta(days=182)).replace(hour=9, minute=0, second=0, microsecond=0))
    crm.clock = demo_clock
    try:
        try:
            report = api.send("customer-satisfaction", "newsletter")
        except NotFoundError:
            return lines + ["no mailing list 'newsletter' (enable the contacts plugin's demo): nothing sent"]
        lines.append(
            f"sent to {report.sent} members of 'newsletter' ({report.do_not_contact} do-not-contact and "
            f"{report.unsubscribed} unsubscribed skipped); the messages wait in the mail queue"
        )
        with crm.activate():
            invited = [
                i.id
                for i in Invitation.select(Invitation.id).where(Invitation.medium == "email").order_by(Invitation.id)
            ]
        rng = random.Random(6)
        chosen = sorted(rng.sample(invited, min(ANSWERS, len(invited))))
        # answers arrive over the six months, most in the first weeks, and are saved in that order
        arrivals = sorted(
            (dt.timedelta(days=min(180, int(rng.expovariate(1 / 25))), hours=rng.randint(1, 10)), invitation_id)
            for invitation_id in chosen
        )
        negative = 0
        for n, (after, invitation_id) in enumerate(arrivals):
            demo_clock.set(now - dt.timedelta(days=182) + after)
            with crm.activate():
                invitation = Invitation.get_by_id(invitation_id)
                saved = collect.save_response(crm, invitation, _answer(rng), channel="web" if n % 9 else "paper")
            negative += saved.negative
        lines.append(
            f"{len(chosen)} answers over six months, {negative} negative (NPS 0-6 or CSAT 1-2): crm surveys results customer-satisfaction --by quarter"
        )
    finally:
        crm.clock = real_clock
    try:
        api.schedule(
            "customer-satisfaction", "spanish-customers", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0"
        )
        lines.append("a quarterly send to the segment 'spanish-customers', run by crm worker")
    except NotFoundError:
        pass
    return lines

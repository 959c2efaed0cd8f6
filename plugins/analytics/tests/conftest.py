"""A small, fixed data set whose reports are computed by hand in the tests.

Time zone Europe/Madrid (UTC+1 in winter, UTC+2 from 30 March 2025). Three
contacts, six sales records, stage moves, survey invitations and answers,
staff actions and completed tasks, each made at a known instant by moving
the test clock. The expected figures are worked out in the tests' comments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

UTC = dt.UTC
PLUGINS = ["contacts", "warehouse", "analytics"]


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def analytics_app(crm_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``analytics_app(timezone="Europe/Madrid", settings=None)``: an empty app with the three plugins."""

    def make(
        timezone: str = "Europe/Madrid", settings: dict[str, Any] | None = None, plugins: Any = (), **kwargs: Any
    ) -> Any:
        return crm_factory(plugins=[*PLUGINS, *plugins], timezone=timezone, settings=settings, **kwargs)

    return make


def build_data_set(crm: Any, clock: Any) -> dict[str, int]:
    """Fill the app with the fixed data set; return the ids by name."""
    from crm_hookspecs.events import SurveyAnswered, SurveySent, TaskCompleted

    contacts = crm.plugin("contacts")
    sales = crm.plugin("warehouse").sales
    actions = crm.plugin("warehouse").actions
    ids: dict[str, int] = {}

    clock.set(at(2025, 1, 2, 10))
    ids["A"] = contacts.create(
        first_name="Ana", last_name="Alba", region="north", country="ES", status="customer", owner="ana"
    ).id
    ids["B"] = contacts.create(
        first_name="Bo", last_name="Berg", region="south", country="FR", status="prospect", owner="luis"
    ).id
    ids["C"] = contacts.create(
        first_name="Cy", last_name="Cruz", region="north", country="PT", status="prospect", owner="ana"
    ).id

    def add(
        name: str, when: dt.datetime, kind: str, contact: str, amount: str, currency: str = "EUR", **kw: Any
    ) -> None:
        clock.set(when)
        ids[name] = sales.add(kind, ids[contact], amount=amount, currency=currency, actor="ana", **kw).id

    def move(name: str, when: dt.datetime, stage: str) -> None:
        clock.set(when)
        sales.move(ids[name], stage, actor="ana")

    def close(name: str, when: dt.datetime, won: bool) -> None:
        clock.set(when)
        sales.close(ids[name], won=won, actor="ana")

    add("s1", at(2025, 1, 10, 9), "sale", "A", "1000", product_line="boilers")
    add("s2", at(2025, 1, 20, 9), "quote", "B", "500")
    add("s3", at(2025, 2, 1, 9), "sale", "A", "2000", product_line="boilers")
    clock.set(at(2025, 2, 3, 9))
    actions.log("call", contact_id=ids["A"], subject="Follow-up", author="ana")
    clock.set(at(2025, 2, 4, 9))
    actions.log("meeting", contact_id=ids["A"], subject="Visit", author="ana")
    move("s2", at(2025, 2, 10, 9), "qualified")
    close("s1", at(2025, 2, 15, 12), True)
    clock.set(at(2025, 2, 20, 9))
    contacts.update(ids["C"], status="customer", actor="ana")
    move("s3", at(2025, 3, 1, 9), "proposal")
    add("s4", at(2025, 3, 5, 9), "rfq", "C", "300", expected_close_on=dt.date(2025, 8, 15))
    close("s2", at(2025, 3, 10, 12), False)
    move("s4", at(2025, 3, 20, 9), "qualified")
    # 23:30 UTC on 31 March is 01:30 on 1 April in Madrid: the sale closes in Q2
    close("s3", at(2025, 3, 31, 23, 30), True)
    add("s5", at(2025, 4, 10, 9), "sale", "B", "800", currency="GBP")
    add("s6", at(2025, 5, 2, 9), "sale", "C", "400")
    move("s6", at(2025, 5, 10, 9), "qualified")
    close("s5", at(2025, 5, 20, 12), True)
    clock.set(at(2025, 5, 20, 12, 5))
    contacts.update(ids["B"], status="customer", actor="luis")
    move("s4", at(2025, 6, 10, 9), "proposal")
    clock.set(at(2025, 6, 15, 9))
    contacts.update(ids["C"], status="former", actor="ana")
    close("s6", at(2025, 6, 30, 10), False)

    # staff actions logged late in the evening of 31 March (UTC) are in Q2 in Madrid
    clock.set(at(2025, 3, 31, 22, 30))
    actions.log("note", contact_id=ids["B"], subject="Called back", author="luis")
    clock.set(at(2025, 4, 15, 9))
    actions.log("email", contact_id=ids["B"], subject="Offer", author="luis")

    with crm.transaction():
        for contact, when in (
            ("A", at(2025, 3, 1, 10)),
            ("C", at(2025, 3, 1, 10)),
            ("B", at(2025, 3, 10, 10)),
            ("C", at(2025, 5, 1, 10)),
        ):
            crm.emit(SurveySent(survey_id=7, version=1, contact_id=ids[contact], occurred_at=when))
        answers = (
            (1, "A", at(2025, 3, 5, 10), 10, 5, "north"),
            (2, "B", at(2025, 3, 31, 22, 30), 6, 2, "south"),  # 00:30 on 1 April in Madrid: Q2
            (3, "C", at(2025, 5, 3, 10), 8, 4, "north"),
        )
        for response, contact, when, nps, csat, region in answers:
            crm.emit(SurveyAnswered(
                survey_id=7, version=1, contact_id=ids[contact], response_id=response, region=region, occurred_at=when,
                scores={"recommend": nps, "satisfaction": csat}, negative=nps <= 6 or csat <= 2,
            ))  # fmt: skip
        crm.emit(TaskCompleted(task_id=1, kind="call", assignee="luis", actor="luis", occurred_at=at(2025, 4, 16, 9)))
        crm.emit(TaskCompleted(task_id=2, kind="todo", assignee="ana", actor=None, occurred_at=at(2025, 5, 1, 9)))
    clock.set(at(2025, 7, 15, 9))
    return ids


@pytest.fixture
def data_set(analytics_app: Callable[..., Any], crm_clock: Any) -> Any:
    """The app (Europe/Madrid) holding the fixed data set; ``app.ids`` maps names to ids."""
    crm = analytics_app()
    crm.ids = build_data_set(crm, crm_clock)
    return crm


@pytest.fixture
def fill() -> Callable[[Any, Any], dict[str, int]]:
    """``fill(crm, clock)`` puts the fixed data set into an app built with other settings."""
    return build_data_set

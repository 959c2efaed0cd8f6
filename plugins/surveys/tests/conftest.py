"""Fixtures for the surveys plugin's tests (the kernel's test kit gives crm_factory and friends)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

SECRET = "test-secret-for-surveys"
UNSUBSCRIBE = "unsubscribe@example.com"

#: a survey with one question of each kind and a condition
DEFINITION: dict[str, Any] = {
    "key": "csat",
    "title": "How did we do?",
    "introduction": "Two minutes, please.",
    "email": {
        "subject": "{{ first_name }}, how did we do?",
        "text": "Dear {{ display_name }} ({{ region }}),\nanswer here: {{ link }}\nuntil {{ expires_on }}\n",
    },
    "questions": [
        {"key": "recommend", "kind": "nps", "text": "Would you recommend us?", "required": True},
        {
            "key": "why",
            "kind": "text",
            "text": "What should we do better?",
            "show_if": {"question": "recommend", "op": "<=", "value": 6},
        },
        {"key": "satisfaction", "kind": "csat", "text": "How satisfied are you?"},
        {"key": "speed", "kind": "rating", "text": "How fast were we?", "min": 1, "max": 10},
        {
            "key": "channel",
            "kind": "single_choice",
            "text": "How do you contact us?",
            "choices": ["Phone", "E-mail", "Shop"],
        },
        {
            "key": "topics",
            "kind": "multiple_choice",
            "text": "What interests you?",
            "choices": ["Products", "Offers", "Events"],
        },
        {"key": "call_back", "kind": "yes_no", "text": "May we call you?"},
    ],
}


@pytest.fixture
def definition() -> dict[str, Any]:
    """A fresh copy of :data:`DEFINITION`, to change in a test."""
    return copy.deepcopy(DEFINITION)


@pytest.fixture
def surveys_app(crm_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``surveys_app(**settings)``: an app with contacts and surveys, migrated.

    Without the portal no plugin serves an unsubscribe page: invitations are
    bulk mail, so the app gives a mailto: address for unsubscribing instead.
    """

    def make(**settings: Any) -> Any:
        return crm_factory(
            plugins=["contacts", "surveys"],
            settings={"surveys": {"secret": SECRET, **settings}},
            mail={"unsubscribe_mailto": UNSUBSCRIBE},
        )

    return make


@pytest.fixture
def app(surveys_app: Callable[..., Any]) -> Any:
    return surveys_app()


class People:
    """Makes contacts through the contacts plugin's API."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm
        self.api = crm.plugin("contacts")
        self.count = 0

    def add(self, region: str = "ES", *, email: bool = True, address: bool = False, **fields: Any) -> int:
        self.count += 1
        n = self.count
        values: dict[str, Any] = {"first_name": f"Ana{n}", "last_name": "García", "region": region, **fields}
        if email:
            values["email"] = f"ana{n}@example.com"
        if address:
            values["addresses"] = [
                {
                    "street": f"Calle Mayor {n}",
                    "postal_code": "28013",
                    "city": "Madrid",
                    "country": "ES",
                    "primary": True,
                }
            ]
        return self.api.create(**values).id


@pytest.fixture
def people(app: Any) -> People:
    return People(app)

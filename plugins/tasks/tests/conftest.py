"""Fixtures of the tasks plugin's tests.

``tasks_app(rules=[...], contacts={id: card fields}, ...)`` builds a migrated
app with the tasks plugin, the staff below, the memory mail transport, and
a stand-in for the contacts plugin that serves the given cards (or, with
``contacts="real"``, the real one), so the rules can be tested without the
contacts plugin's own data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from crm_hookspecs import hookimpl

STAFF = [
    {"name": "ana", "email": "ana@example.com", "full_name": "Ana Ruiz", "teams": ["sales"]},
    {"name": "luis", "email": "luis@example.com", "teams": ["sales", "support"]},
    {"name": "marta", "email": "marta@example.com", "teams": ["support"]},
    {"name": "old", "email": "old@example.com", "active": False},
]


class FakeContacts:
    """Serves ContactCards for given ids, as crm.plugin("contacts") would."""

    def __init__(self, cards: dict[int, dict[str, Any]]) -> None:
        from crm_hookspecs.records import ContactCard

        self.cards_by_id = {
            cid: ContactCard(
                id=cid,
                kind="person",
                display_name=f.get("display_name", f"Person {cid}"),
                **{k: v for k, v in f.items() if k != "display_name"},
            )
            for cid, f in cards.items()
        }
        self.calls = 0

    def card(self, contact_id: int) -> Any:
        from crm_core.errors import NotFoundError

        try:
            return self.cards_by_id[contact_id]
        except KeyError:
            raise NotFoundError(f"no contact {contact_id}") from None

    def cards(self, contact_ids: Sequence[int]) -> list[Any]:
        self.calls += 1
        return [self.cards_by_id[i] for i in contact_ids if i in self.cards_by_id]


class FakeContactsPlugin:
    def __init__(self, api: FakeContacts) -> None:
        self.api = api

    @hookimpl
    def crm_plugin_api(self, crm: Any) -> Any:
        return self.api


@pytest.fixture
def tasks_app(crm_factory: Callable[..., Any]) -> Callable[..., Any]:
    def make(
        rules: Sequence[dict[str, Any]] = (),
        *,
        contacts: dict[int, dict[str, Any]] | str | None = None,
        extra_plugins: Sequence[Any] = (),
        timezone: str = "UTC",
        **settings: Any,
    ) -> Any:
        plugins: list[Any] = []
        if contacts == "real":
            plugins.append("contacts")
        else:  # tasks requires contacts: a stand-in serving the given cards
            plugins.append(("contacts", FakeContactsPlugin(FakeContacts(contacts or {}))))
        plugins += list(extra_plugins)
        plugins.append("tasks")
        table = {"staff": STAFF, "rules": list(rules), **settings}
        return crm_factory(plugins=plugins, settings={"tasks": table}, timezone=timezone)

    return make


@pytest.fixture
def tasks_staff() -> list[dict[str, Any]]:
    """The staff list every ``tasks_app`` has."""
    return [dict(m) for m in STAFF]


@pytest.fixture
def sent() -> Callable[[Any], list[tuple[str, str]]]:
    """``sent(crm)``: (recipient, subject) of every queued message, oldest first."""

    def read(crm: Any) -> list[tuple[str, str]]:
        messages = sorted(crm.mail.list(limit=10_000), key=lambda m: m.id)
        return [(", ".join(m.to), m.subject) for m in messages]

    return read

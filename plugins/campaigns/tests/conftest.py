"""Fixtures for the campaigns plugin's tests: an app with contacts, the portal (its unsubscribe links) and campaigns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

TEXT = "Hello {{ first_name }},\n\nnews for {{ region }}.\n"
HTML = "<p>Hello {{ first_name }},</p><p>news for {{ region }}.</p>"


@pytest.fixture(autouse=True)
def _another_app_open(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A second CRM app open in the process, as in an embedder's: a model query outside ``crm.activate()`` fails."""
    from crm_core.app import CRM

    other = CRM(database=f"sqlite:///{tmp_path_factory.mktemp('other') / 'other.db'}", plugins=[])
    yield other
    other.close()


@pytest.fixture
def campaigns_app(crm_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``campaigns_app(**settings)``: contacts, surveys and portal (its unsubscribe links), campaigns; migrated, mail in memory."""

    def make(**settings: Any) -> Any:
        return crm_factory(
            plugins=["contacts", "surveys", "portal", "campaigns"],
            settings={"campaigns": settings, "portal": {"secret": "portal-test-secret-0123456789abcdef"}},
        )

    return make


@pytest.fixture
def app(campaigns_app: Callable[..., Any]) -> Any:
    return campaigns_app()


class Audience:
    """Contacts on a mailing list, made through the contacts plugin's API."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm
        self.contacts = crm.plugin("contacts")
        self.count = 0

    def add(self, *lists: str, email: str | None = "", **fields: Any) -> int:
        self.count += 1
        n = self.count
        values: dict[str, Any] = {"first_name": f"Ana{n}", "last_name": "García", "region": "Madrid", **fields}
        if email is not None:
            values["email"] = email or f"ana{n}@example.com"
        contact_id = int(self.contacts.create(**values).id)
        for name in lists:
            if name not in {info.name for info in self.contacts.lists()}:
                self.contacts.create_list(name)
            self.contacts.add_to_list(name, [contact_id])
        return contact_id


@pytest.fixture
def audience(app: Any) -> Audience:
    return Audience(app)


@pytest.fixture
def campaign(app: Any) -> Any:
    return app.plugin("campaigns").create("November news", "News for {{ first_name }}", TEXT, HTML)


@pytest.fixture
def manager(app: Any, crm_user: Any) -> Any:
    return crm_user(app, name="boss", roles=["manager"], email="boss@example.com")


@pytest.fixture
def seller(app: Any, crm_user: Any) -> Any:
    return crm_user(app, name="ana", roles=["sales"], email="ana.seller@example.com")


def _mailed(crm: Any) -> list[str]:
    return [m.to[0].rsplit("<", 1)[-1].rstrip(">").lower() for m in reversed(crm.mail.list(limit=10_000))]


@pytest.fixture
def mailed() -> Callable[[Any], list[str]]:
    """``mailed(crm)``: the addresses of the mail in the queue (bare, lower-case), oldest first."""
    return _mailed

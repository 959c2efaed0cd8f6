"""Every public method of CampaignsAPI checks a permission: a user without roles may do nothing; a seller may not send."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from crm_campaigns.api import CampaignsAPI

from crm_core.errors import PermissionDenied

from .conftest import HTML, TEXT

Call = Callable[[CampaignsAPI, Any], Any]

#: method -> a call of it (``c``: the campaign made by the system before)
CALLS: dict[str, Call] = {
    "require_send": lambda api, c: api.require_send(),
    "list": lambda api, c: api.list(),
    "get": lambda api, c: api.get(c.id),
    "create": lambda api, c: api.create("Other", "Hi", TEXT, HTML),
    "update": lambda api, c: api.update(c.id, subject="Hello"),
    "check": lambda api, c: api.check("Hi", TEXT, HTML),
    "preview": lambda api, c: api.preview(c.id),
    "test": lambda api, c: api.test(c.id),
    "send": lambda api, c: api.send(c.id, "news"),
    "audience": lambda api, c: api.audience("news"),
    "cancel": lambda api, c: api.cancel(1),
    "send_info": lambda api, c: api.send_info(1),
    "sends": lambda api, c: api.sends(c.id),
    "count_sends": lambda api, c: api.count_sends(c.id),
    "recur": lambda api, c: api.recur(c.id, "news", "FREQ=MONTHLY"),
    "recurring": lambda api, c: api.recurring(c.id),
    "stop_recurring": lambda api, c: api.stop_recurring(1),
    "run_due": lambda api, c: api.run_due(),
}

#: methods that check nothing, and why
UNCHECKED = {
    "can_send": "says whether the acting user may send: it answers, it refuses nothing",
    "handle_events": "the event handler: events are facts already recorded, handled whoever runs the delivery",
}

#: methods a seller (sales) may not call: sending mails a whole list, beyond their own customers
SENDING = {"require_send", "send", "cancel", "recur", "stop_recurring", "run_due"}


def _public() -> set[str]:
    return {n for n, m in inspect.getmembers(CampaignsAPI, inspect.isfunction) if not n.startswith("_")}


def test_every_public_method_is_in_the_table() -> None:
    assert _public() - set(CALLS) - set(UNCHECKED) == set(), "add the new CampaignsAPI methods to CALLS"
    assert (set(CALLS) | set(UNCHECKED)) - _public() == set()


@pytest.mark.parametrize("method", sorted(CALLS))
def test_a_user_without_roles_may_do_nothing(
    app: Any, campaign: Any, audience: Any, crm_as_user: Any, method: str
) -> None:
    audience.add("news")
    with crm_as_user(app, roles=[]), pytest.raises(PermissionDenied):
        CALLS[method](app.plugin("campaigns"), campaign)


@pytest.mark.parametrize("method", sorted(SENDING))
def test_a_seller_may_not_send(app: Any, campaign: Any, audience: Any, seller: Any, method: str) -> None:
    audience.add("news")
    with app.as_user(seller), pytest.raises(PermissionDenied):
        CALLS[method](app.plugin("campaigns"), campaign)
    assert app.mail.list() == []  # nothing was queued

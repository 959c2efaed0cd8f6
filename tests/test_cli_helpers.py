"""The kernel's helpers for plugin commands (``crm_core.cli.helpers``) and the acting user on events."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import uuid

import attrs
import click
import pytest
from click.testing import CliRunner

from crm_core.cli.helpers import acting_user_option, actor_name, echo_json, plugin_api, to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import NotFoundError, PluginError
from crm_core.testing import make_plugin
from crm_hookspecs.apis import ContactsAPI
from crm_hookspecs.events import ContactCreated


class Colour(enum.Enum):
    RED = "red"


@attrs.frozen
class Card:
    name: str
    born: dt.date
    seen: dt.datetime | None
    amount: decimal.Decimal
    tags: frozenset[str]
    colour: Colour
    ref: uuid.UUID


def test_to_json_makes_records_plain():
    card = Card(
        "Ana",
        dt.date(1990, 5, 1),
        dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
        decimal.Decimal("12.50"),
        frozenset({"b", "a"}),
        Colour.RED,
        uuid.UUID(int=1),
    )
    assert to_json({"cards": [card], 1: None}) == {
        "cards": [
            {
                "name": "Ana",
                "born": "1990-05-01",
                "seen": "2026-01-02T03:04:00+00:00",
                "amount": "12.50",
                "tags": ["a", "b"],
                "colour": "red",
                "ref": "00000000-0000-0000-0000-000000000001",
            }
        ],
        "1": None,
    }
    json.dumps(to_json(card))  # no TypeError


def _command():
    @click.command("who")
    @acting_user_option
    @pass_state
    def who(state):
        click.echo(f"actor={actor_name(state)}")
        echo_json({"user": state.crm().current_user.name if state.crm().current_user else None})

    return who


def test_by_is_a_deprecated_alias_of_as(crm, crm_user):
    crm_user(crm, name="ana", roles=["sales"])
    result = CliRunner().invoke(_command(), ["--by", "ana"], obj=CLIState(app=crm), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "actor=ana" in result.output
    assert '"user": "ana"' in result.output
    assert "--by is deprecated; use 'crm --as ana" in result.output


def test_by_naming_no_user_is_refused(crm):
    result = CliRunner().invoke(_command(), ["--by", "nobody"], obj=CLIState(app=crm))
    assert result.exit_code != 0
    assert "nobody" in str(result.exception or result.output)


def test_without_a_user_the_system_acts_and_crm_user_is_a_deprecated_label(crm, monkeypatch):
    monkeypatch.delenv("CRM_USER", raising=False)
    result = CliRunner().invoke(_command(), [], obj=CLIState(app=crm), catch_exceptions=False)
    assert "actor=None" in result.output
    result = CliRunner().invoke(_command(), [], obj=CLIState(app=crm), env={"CRM_USER": "olga"})
    assert "actor=olga" in result.output
    assert "$CRM_USER is deprecated" in result.output


def test_plugin_api_checks_the_protocol(crm_factory):
    name, plugin = make_plugin("contacts", crm_plugin_api=lambda crm: object())
    app = crm_factory([(name, plugin)])
    state = CLIState(app=app)
    assert plugin_api(state, "contacts") is not None
    with pytest.raises(PluginError, match="does not offer ContactsAPI"):
        plugin_api(state, "contacts", ContactsAPI)
    with pytest.raises(NotFoundError, match="'surveys' is not enabled"):
        plugin_api(state, "surveys")


def test_events_record_the_acting_user(crm, crm_user, crm_recorder):
    crm_user(crm, name="ana", roles=["sales"])
    with crm.as_user("ana"):
        crm.emit(ContactCreated(contact_id=1))
    crm.emit(ContactCreated(contact_id=2))
    crm.emit(ContactCreated(contact_id=3, actor="importer", channel="import"))
    rows = {
        e.event.contact_id: (e.event.actor, e.event.channel)
        for e in crm.events.read()
        if isinstance(e.event, ContactCreated)
    }
    assert rows == {1: ("ana", "staff"), 2: (None, "system"), 3: ("importer", "import")}

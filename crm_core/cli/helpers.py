"""What every plugin's commands repeat, in one place: the plugin's API, the acting user, records as JSON.

A plugin's ``cli/`` package uses these instead of writing its own::

    from crm_core.cli.helpers import acting_user_option, actor_name, echo_json, plugin_api

    @click.command("show")
    @acting_user_option
    @pass_state
    def show(state, ...):
        api = plugin_api(state, "contacts", ContactsAPI)
        echo_json(api.get(...))

The acting user is the kernel's: ``crm --as USER``, else the CRM user named
like the shell user, else the system (see ``docs/users.md``). The old ways
of naming who acts keep working for one release, with a deprecation note:
a command's ``--by NAME`` option (:func:`acting_user_option`) and the
``CRM_USER`` environment variable (:func:`actor_name`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

import attrs
import click

if TYPE_CHECKING:
    from crm_core.cli.main import CLIState

__all__ = ["acting_user_option", "actor_name", "echo_json", "plugin_api", "to_json"]

_F = TypeVar("_F", bound=Callable[..., Any])
_API = TypeVar("_API")

#: the deprecated way to name the acting user in scripts (until contract 2.0)
LEGACY_USER_VARIABLE = "CRM_USER"


@overload
def plugin_api(state: CLIState, name: str) -> Any: ...


@overload
def plugin_api(state: CLIState, name: str, protocol: type[_API]) -> _API: ...


def plugin_api(state: CLIState, name: str, protocol: type[Any] | None = None) -> Any:
    """Plugin ``name``'s API object for a command, checked against ``protocol`` when given.

    A plugin that is not enabled in this app is a one-line error saying so
    (``NotFoundError``), and one whose API lacks a method of ``protocol`` a
    ``PluginError`` naming it.
    """
    app = state.crm()
    return app.plugin(name) if protocol is None else app.plugin(name, protocol)


def _by_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from crm_core.cli.main import CLIError, CLIState
    from crm_core.output import note

    state = ctx.find_object(CLIState)
    if state is None:  # the command runs outside the crm group (a test calling it alone)
        return value
    if state.as_user is not None and state.as_user.casefold() != value.casefold():
        raise CLIError(f"--by {value!r} and crm --as {state.as_user!r} disagree; give only 'crm --as USER'", 2)
    note(f"Note: --by is deprecated; use 'crm --as {value} …' (the option goes away in contract 2.0)")
    state.act_as(value)
    return value


def acting_user_option(command: _F) -> _F:
    """The deprecated ``--by NAME`` option of the commands that had one: the same as ``crm --as NAME``.

    Kept for one release so that scripts written before users existed keep
    working; the command acts as that CRM user (with their permissions).
    """
    option = click.option(
        "--by",
        "by",
        default=None,
        metavar="USER",
        expose_value=False,
        callback=_by_callback,
        help="Deprecated: use 'crm --as USER'. Act as this CRM user.",
    )
    return option(command)


def actor_name(state: CLIState) -> str | None:
    """Who a command records as having acted: the acting CRM user's name, or ``None`` for the system.

    When no CRM user acts, ``$CRM_USER`` (the way before users existed) is
    still taken as a label for one release, with a deprecation note.
    """
    user = state.crm().current_user
    if user is not None:
        return user.name
    legacy = os.environ.get(LEGACY_USER_VARIABLE)
    if legacy:
        from crm_core.output import note

        note(
            f"Note: ${LEGACY_USER_VARIABLE} is deprecated; make {legacy!r} a CRM user "
            f"('crm users add {legacy}') and run 'crm --as {legacy} …'"
        )
        return legacy
    return None


def to_json(value: Any) -> Any:
    """``value`` made JSON-ready: records (attrs classes) as dicts, datetimes and dates in ISO 8601,
    decimals and UUIDs as strings, enums as their values, sets as sorted lists."""
    if attrs.has(type(value)):
        return {a.name: to_json(getattr(value, a.name)) for a in attrs.fields(type(value))}
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((to_json(v) for v in value), key=str)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (through :func:`to_json`)."""
    click.echo(json.dumps(to_json(value), indent=2, ensure_ascii=False))

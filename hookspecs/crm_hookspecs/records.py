"""Records that cross the boundary between the kernel and the plugins.

They are small frozen attrs classes: what a hook returns to the kernel, or
what one plugin hands to another through the kernel.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Callable, Literal

import attrs

__all__ = [
    "CommandSpec",
    "FieldChange",
    "JobSpec",
    "MailTransportSpec",
    "PluginSchema",
]


def _to_path(value: str | Path) -> Path:
    return Path(value)


@attrs.frozen
class PluginSchema:
    """A plugin's database schema, returned by ``crm_schema``.

    ``migrations`` is the folder of numbered migration scripts run by
    ``playhouse.migrations``; ``models`` are the plugin's peewee models (each
    table name must start with the plugin's name and an underscore).
    """

    migrations: Path = attrs.field(converter=_to_path)
    models: tuple[type, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class CommandSpec:
    """A CLI command contributed by ``crm_cli_commands``.

    ``target`` is ``"package.module:attribute"`` naming a click command or
    group; the module is imported only when the command runs, so ``crm
    --help`` stays fast. ``help`` is the one line shown by ``crm --help``.
    """

    name: str
    target: str = attrs.field()
    help: str = ""

    @target.validator
    def _check_target(self, attribute: attrs.Attribute, value: str) -> None:
        module, _, attr = value.partition(":")
        if not module or not attr:
            raise ValueError(
                f"CommandSpec {self.name!r}: target {value!r} must look like "
                "'package.module:attribute'"
            )


@attrs.frozen
class JobSpec:
    """A timed job contributed by ``crm_worker_jobs`` and run by ``crm worker``.

    Exactly one of ``interval`` and ``rrule`` is set. ``rrule`` is an RFC 5545
    recurrence rule (``"FREQ=WEEKLY;BYDAY=MO;BYHOUR=9"``) evaluated in the
    app's time zone. ``catch_up`` says what happens to occurrences missed while
    no worker ran: ``"once"`` runs one now, ``"each"`` runs every missed one.
    ``run`` is called as ``run(crm, scheduled_at)``.
    """

    name: str
    run: Callable[..., Any]
    interval: _dt.timedelta | None = None
    rrule: str | None = None
    catch_up: Literal["once", "each"] = "once"
    lease: _dt.timedelta = _dt.timedelta(minutes=10)

    def __attrs_post_init__(self) -> None:
        if (self.interval is None) == (self.rrule is None):
            raise ValueError(
                f"JobSpec {self.name!r}: give exactly one of interval= and rrule="
            )
        if self.catch_up not in ("once", "each"):
            raise ValueError(
                f"JobSpec {self.name!r}: catch_up must be 'once' or 'each', "
                f"not {self.catch_up!r}"
            )


@attrs.frozen
class MailTransportSpec:
    """A mail transport contributed by ``crm_mail_transports``.

    ``factory(crm, settings)`` returns an object with ``send(messages)``; see
    the mail documentation for the transport protocol.
    """

    name: str
    factory: Callable[..., Any]


@attrs.frozen
class FieldChange:
    """One field's change inside ``ContactChanged``: its value before and after."""

    old: Any
    new: Any

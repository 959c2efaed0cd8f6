"""The portal's own event type (a plugin's types carry a dotted name).

Imported by the entry module, so the type is known wherever the portal is
enabled; elsewhere it reads back as ``UnknownEvent`` and is kept all the same.
"""

from __future__ import annotations

import datetime as _dt

import attrs
from crm_hookspecs.events import Event, event_type

__all__ = ["ConsentGiven"]


@event_type("portal.ConsentGiven")
class ConsentGiven(Event):
    """A person confirmed a sign-up: ``text`` is what he agreed to, word for word.

    ``consent_id`` is the row of ``portal_consent`` that keeps it, ``form``
    the sign-up form, ``lists`` the mailing lists joined, ``language`` the
    language of the text, ``given_at`` when the form was sent (the event's
    ``occurred_at`` is the confirmation).
    """

    contact_id: int
    consent_id: int
    form: str
    text: str
    language: str
    lists: list[str] = attrs.field(factory=list)
    given_at: _dt.datetime | None = None

"""Recorded consents: what each person agreed to on a sign-up form, when, from where."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["ConsentRecord", "Consents"]


@attrs.frozen
class ConsentRecord:
    """One recorded consent: what was agreed, when, on which form, from where."""

    id: int
    contact_id: int | None
    form: str
    text: str
    language: str
    lists: tuple[str, ...]
    given_at: dt.datetime
    confirmed_at: dt.datetime
    ip: str | None


class Consents:
    """The consents service: reading ``portal_consent`` (no permission checks: the facade's)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def records(
        self, contact_id: int | None = None, form: str | None = None, limit: int | None = None
    ) -> list[ConsentRecord]:
        """Recorded consents, newest first: of one contact, of one form, or all."""
        from crm_portal.models import Consent

        with self.crm.activate():
            query = Consent.select().order_by(Consent.confirmed_at.desc(), Consent.id.desc())
            if contact_id is not None:
                query = query.where(Consent.contact_id == int(contact_id))
            if form is not None:
                query = query.where(Consent.form == form)
            if limit is not None:
                query = query.limit(limit)
            return [
                ConsentRecord(
                    id=row.id,
                    contact_id=row.contact_id,
                    form=row.form,
                    text=row.text,
                    language=row.language,
                    lists=tuple(json.loads(row.lists)),
                    given_at=row.given_at,
                    confirmed_at=row.confirmed_at,
                    ip=row.ip,
                )
                for row in query
            ]

"""Personal data held by the portal: sign-ups and consents, exported, erased, merged.

The personal-data hooks of :mod:`crm_portal.plugin` call these; they run
as the kernel asks them to (the privacy commands check who may).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from peewee import fn

from crm_core.storage import batched
from crm_hookspecs.apis import ContactsAPI
from crm_portal.models import Consent, RateHit, Signup

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["erase", "export", "merged", "unmerged", "values"]

#: ids per ``IN (...)`` (SQLite allows 32766 parameters, some builds 999)
BATCH = 500


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(crm: CRM, contact_id: int) -> dict[str, Any] | None:
    """The contact's consents and sign-ups, JSON-ready (``None`` when there are none)."""
    with crm.activate():
        consents = [
            {
                "form": c.form,
                "text": c.text,
                "language": c.language,
                "lists": json.loads(c.lists),
                "ip": c.ip,
                "given_at": _iso(c.given_at),
                "confirmed_at": _iso(c.confirmed_at),
            }
            for c in Consent.select().where(Consent.contact_id == contact_id).order_by(Consent.id)
        ]
        signups = [
            {
                "form": s.form,
                "email": s.email,
                "first_name": s.first_name,
                "last_name": s.last_name,
                "language": s.language,
                "ip": s.ip,
                "requested_at": _iso(s.requested_at),
                "confirmed_at": _iso(s.confirmed_at),
            }
            for s in Signup.select().where(Signup.contact_id == contact_id).order_by(Signup.id)
        ]
    if not consents and not signups:
        return None
    return {"consents": consents, "signups": signups}


def values(crm: CRM, contact_id: int) -> list[str]:
    """The addresses and names the person signed up with (they may differ from the contact's)."""
    with crm.activate():
        rows = list(
            Signup.select(Signup.email, Signup.first_name, Signup.last_name)
            .where(Signup.contact_id == contact_id)
            .tuples()
            .iterator()
        )
    values = set()
    for email, first, last in rows:
        values.add(email)
        values.add(f"{first} {last}".strip() if first and last else "")
    return sorted(v for v in values if v)


def _addresses(crm: CRM, contact_id: int) -> list[str]:
    return sorted({address.lower() for address in crm.plugin("contacts", ContactsAPI).email_addresses(contact_id)})  # type: ignore[type-abstract]


def erase(crm: CRM, contact_id: int) -> int:
    """Remove what identifies the person: the sign-ups' address, names and client address, the consents' client address.

    Sign-ups to his addresses that were never confirmed are deleted (they
    hold nothing but the address and the request), with their rate-limit
    counters.

    A consent keeps its form, text and dates (that consent was given is not
    personal once nobody can be named), detached from the contact.
    """
    with crm.transaction():
        # sign-ups not confirmed yet name no contact: they are his by address
        # (the contacts plugin still holds them: this hook runs before its own)
        addresses = _addresses(crm, contact_id)
        changed: int = 0
        if addresses:
            pending = [
                pk
                for (pk,) in Signup.select(Signup.id)
                .where(
                    Signup.contact_id.is_null() & Signup.confirmed_at.is_null() & fn.LOWER(Signup.email).in_(addresses)
                )
                .tuples()
                .iterator()
            ]
            if pending:
                Consent.update(signup=None).where(Consent.signup.in_(pending)).execute()
                changed += Signup.delete().where(Signup.id.in_(pending)).execute()
        rows = list(Signup.select(Signup.id, Signup.email).where(Signup.contact_id == contact_id).tuples().iterator())
        ids = [pk for pk, _ in rows]
        # the rate limits count sign-ups per address under a hash of it: a pseudonym of the person
        from crm_portal.ratelimit import email_key

        keys = sorted({f"signup:email:{email_key(email)}" for email in [*addresses, *(e for _, e in rows)] if email})
        if keys:
            changed += RateHit.delete().where(RateHit.key.in_(keys)).execute()
        for chunk in batched(ids, BATCH):
            changed += (
                Signup.update(email="", first_name="", last_name="", ip=None, contact_id=None)
                .where(Signup.id.in_(chunk))
                .execute()
            )
        changed += Consent.update(ip=None, contact_id=None).where(Consent.contact_id == contact_id).execute()
    return changed


def merged(crm: CRM, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    """Move the merged contact's consents and sign-ups to the survivor; what moved, by table, for :func:`unmerged`."""
    with crm.transaction():
        consents = [r[0] for r in Consent.select(Consent.id).where(Consent.contact_id == merged_id).tuples().iterator()]
        signups = [r[0] for r in Signup.select(Signup.id).where(Signup.contact_id == merged_id).tuples().iterator()]
        for chunk in batched(consents, BATCH):
            Consent.update(contact_id=survivor_id).where(Consent.id.in_(chunk)).execute()
        for chunk in batched(signups, BATCH):
            Signup.update(contact_id=survivor_id).where(Signup.id.in_(chunk)).execute()
    moved = {}
    if consents:
        moved["portal_consent"] = consents
    if signups:
        moved["portal_signup"] = signups
    return moved


def unmerged(crm: CRM, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    """Give the rows :func:`merged` moved back to the merged contact."""
    with crm.transaction():
        for chunk in batched(moved.get("portal_consent", []), BATCH):
            Consent.update(contact_id=merged_id).where(Consent.id.in_(chunk)).execute()
        for chunk in batched(moved.get("portal_signup", []), BATCH):
            Signup.update(contact_id=merged_id).where(Signup.id.in_(chunk)).execute()

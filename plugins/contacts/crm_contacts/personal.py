"""Personal data (GDPR): export everything about one contact, and erase it.

:func:`export`, :func:`erase` and :func:`values` are this plugin's part of the
contract's ``crm_export_personal_data``, ``crm_erase_personal_data`` and
``crm_personal_values`` hooks, for its own tables. :class:`PersonalData`
(behind ``ContactsAPI.export_personal_data`` and ``ContactsAPI.erase``)
gathers every enabled plugin's part through the kernel's hook facade, in one
transaction for erasure, and records ``ContactErased`` (that it happened,
not what).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import attrs

from crm_contacts.book import check_channel
from crm_contacts.fields import DETAIL_FIELDS
from crm_contacts.models import (
    Contact,
    ContactAddress,
    ContactCustomField,
    ContactEmail,
    ContactPhone,
    ContactTag,
    ContactWord,
    ListMember,
    MailingList,
    Merge,
    PendingUpdate,
    UpdateToken,
)
from crm_core.errors import NotFoundError, ValidationError
from crm_core.privacy import erase_contact as erase_everywhere
from crm_hookspecs.events import ContactErased

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["PersonalData", "erase", "export", "values"]


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def export(crm: CRM, contact_id: int) -> dict[str, Any] | None:
    """What the contacts plugin holds about one contact, JSON-ready (``None`` if nothing)."""
    from crm_contacts.book import AddressBook

    with crm.activate():
        if Contact.get_or_none(Contact.id == contact_id) is None:
            return None
        record = AddressBook(crm).get(contact_id)
        lists = [
            {"list": name, "added_at": _plain(added), "unsubscribed_at": _plain(unsub)}
            for name, added, unsub in ListMember.select(
                MailingList.name, ListMember.added_at, ListMember.unsubscribed_at
            )
            .join(MailingList)
            .where(ListMember.contact == contact_id)
            .order_by(MailingList.name)
            .tuples()
            .iterator()
        ]
        merges = [
            {
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "at": _plain(m.created_at),
                "undone_at": _plain(m.undone_at),
            }
            for m in Merge.select()
            .where((Merge.survivor_id == contact_id) | (Merge.merged_id == contact_id))
            .order_by(Merge.id)
        ]
        updates = [
            {"submitted_at": _plain(p.submitted_at), "changes": json.loads(p.changes), "status": p.status}
            for p in PendingUpdate.select().where(PendingUpdate.contact == contact_id).order_by(PendingUpdate.id)
        ]
    return {
        "contact": _plain(attrs.asdict(record)),
        "mailing_lists": lists,
        "merges": merges,
        "self_service_updates": updates,
    }


def values(crm: CRM, contact_id: int) -> list[str]:
    """The values that identify the contact on their own, for the kernel's part of an erasure.

    Names in full (not a first name alone, which other people share),
    e-mail addresses, phone numbers, street lines and the external id. A
    city, postal code or country names many people and is left alone.
    """
    with crm.activate():
        row = Contact.get_or_none(Contact.id == contact_id)
        if row is None:
            return []
        found = [
            row.display_name,
            f"{row.first_name} {row.last_name}".strip(),
            f"{row.last_name} {row.first_name}".strip(),
        ]
        if row.first_name and row.last_name:
            found.append(f"{row.last_name}, {row.first_name}")
        found += [row.name_key, row.external_id or ""]
        found += [
            a
            for (a,) in ContactEmail.select(ContactEmail.address)
            .where(ContactEmail.contact == contact_id)
            .tuples()
            .iterator()
        ]
        for number, _extension in (
            ContactPhone.select(ContactPhone.number, ContactPhone.extension)
            .where(ContactPhone.contact == contact_id)
            .tuples()
            .iterator()
        ):
            found.append(number)
            if number.startswith("+") and len(number) > 4:
                found.append(number[1:])  # as some bodies and files show it
        for street, extra in (
            ContactAddress.select(ContactAddress.street, ContactAddress.extra)
            .where(ContactAddress.contact == contact_id)
            .tuples()
            .iterator()
        ):
            found += [street, extra]
    # only a person's names identify him: an organisation's name is a company's
    if row.kind != "person":
        found = [v for v in found if v not in (row.display_name, row.name_key)] + [row.display_name]
    return sorted({v.strip() for v in found if v and v.strip()})


def erase(crm: CRM, contact_id: int) -> int | None:
    """Anonymise one contact in the contacts tables; returns how many records changed.

    The contact row stays (other plugins' rows point at it, and sales
    figures keep their region and owner) but every personal value goes:
    names (all their parts), nickname, birthday, job title, department, web
    page, notes, external id, language, e-mails, phones, addresses, tags,
    custom fields, list memberships, self-service links and queued updates.
    It is flagged do-not-contact and deleted.
    """
    with crm.activate():
        row = Contact.get_or_none(Contact.id == contact_id)
        if row is None:
            return None
        now = crm.clock.now()
        count = 1
        for model in (
            ContactEmail,
            ContactPhone,
            ContactAddress,
            ContactTag,
            ContactCustomField,
            ListMember,
            PendingUpdate,
            UpdateToken,
        ):
            count += model.delete().where(model.contact == contact_id).execute()
        # the words of its name (an index of name_key, not records of their own: not counted)
        ContactWord.delete().where(ContactWord.contact == contact_id).execute()
        label = f"Erased contact #{contact_id}"
        Contact.update(
            display_name=label,
            first_name="",
            last_name="",
            name_key="",
            notes=None,
            external_id=None,
            language=None,
            # nickname, birthday, middle name, job title…: personal too
            **{name: None for name in DETAIL_FIELDS},
            do_not_contact=True,
            erased_at=now,
            deleted_at=row.deleted_at or now,
            updated_at=now,
        ).where(Contact.id == contact_id).execute()
        # a merge keeps the survivor's earlier values for undoing: drop them too
        for merge in Merge.select().where((Merge.survivor_id == contact_id) | (Merge.merged_id == contact_id)):
            Merge.update(
                survivor_before="{}", moved_rows="{}", moved_by_plugins="{}", undone_at=merge.undone_at or now
            ).where(Merge.id == merge.id).execute()
            count += 1
    return count


class PersonalData:
    """The personal data service: one contact's data from every plugin, and its erasure everywhere."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def export_personal_data(self, contact_id: int) -> dict[str, Any]:
        """Everything every enabled plugin holds about the contact, keyed by plugin name."""
        with self.crm.activate():
            if Contact.get_or_none(Contact.id == int(contact_id)) is None:
                raise NotFoundError(f"no contact with id {contact_id}")
            data = self.crm.hooks.export_personal_data(self.crm, int(contact_id))
        return {
            "contact_id": int(contact_id),
            "exported_at": self.crm.clock.now().isoformat(),
            "plugins": data,
        }

    def erase(self, contact_id: int, *, actor: str | None = None, channel: str = "staff") -> dict[str, int]:
        """Anonymise the contact in every enabled plugin and in the kernel, all or nothing; emits ``ContactErased``.

        Returns how many records each plugin (and ``kernel``) changed; see
        :func:`crm_core.privacy.erase_contact` and ``docs/privacy.md``.
        """
        check_channel(channel)
        with self.crm.transaction():
            row = Contact.get_or_none(Contact.id == int(contact_id))
            if row is None:
                raise NotFoundError(f"no contact with id {contact_id}")
            if row.erased_at is not None:
                raise ValidationError(f"contact {contact_id} was already erased on {row.erased_at.date().isoformat()}")
            # every plugin's tables, then the kernel's (outbox, mail queue, worker records)
            counts = erase_everywhere(self.crm, int(contact_id))
            self.crm.emit(ContactErased(contact_id=int(contact_id), actor=actor, channel=channel))
        return counts

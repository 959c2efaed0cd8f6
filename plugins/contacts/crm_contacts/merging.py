"""Merges (finding the pairs to merge is :mod:`crm_contacts.duplicates`).

:meth:`Merging.merge` folds one contact into another with a
rule per field, moves the references this plugin and every other plugin
hold (through ``crm_contacts_merged``), and records enough to undo it with
:meth:`Merging.unmerge` (which calls ``crm_contacts_unmerged``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crm_contacts.book import check_channel
from crm_contacts.duplicates import DuplicatePair
from crm_contacts.models import Contact, ListMember, Merge
from crm_contacts.records import snapshot
from crm_core.errors import NotFoundError, ValidationError
from crm_hookspecs.events import ContactsMerged, ContactsUnmerged

if TYPE_CHECKING:
    from crm_contacts.book import AddressBook
    from crm_core.app import CRM

__all__ = ["DuplicatePair", "MERGE_RULES", "Merging"]

#: how a scalar field's surviving value is chosen
MERGE_RULES = ("survivor", "merged", "newest")
_SCALARS = (
    "display_name",
    "first_name",
    "last_name",
    "organization_id",
    "status",
    "region",
    "country",
    "owner",
    "language",
    "external_id",
    "notes",
)


class Merging:
    """The merges service: merge two contacts, undo a merge, list merges; built on the address book."""

    def __init__(self, crm: CRM, book: AddressBook) -> None:
        self.crm = crm
        self._book = book

    def merge(
        self,
        survivor_id: int,
        merged_id: int,
        rules: Mapping[str, str] | None = None,
        *,
        actor: str | None = None,
        channel: str = "staff",
    ) -> int:
        """Fold ``merged_id`` into ``survivor_id``; returns the merge id (for :meth:`unmerge`).

        ``rules`` maps scalar fields to ``survivor`` (the default: keep the
        survivor's value, or take the other's when the survivor has none),
        ``merged`` (take the merged contact's value when it has one) or
        ``newest`` (the value of the contact updated last). E-mails, phones,
        addresses, tags and custom fields are united. Emits ``ContactChanged``
        for the survivor and ``ContactsMerged``.
        """
        check_channel(channel)
        survivor_id, merged_id = int(survivor_id), int(merged_id)
        rules = dict(rules or {})
        for field, rule in rules.items():
            if field not in _SCALARS:
                raise ValidationError(
                    f"merge rule for {field!r}: not a field with one value; the fields are: {', '.join(_SCALARS)}"
                )
            if rule not in MERGE_RULES:
                raise ValidationError(f"merge rule {field}={rule!r}: use one of {', '.join(MERGE_RULES)}")
        if survivor_id == merged_id:
            raise ValidationError(f"cannot merge contact {survivor_id} with itself; name two different contacts")
        book = self._book
        with self.crm.transaction():
            rows = {r.id: r for r in Contact.select().where(Contact.id.in_([survivor_id, merged_id]))}
            for cid in (survivor_id, merged_id):
                if cid not in rows:
                    raise NotFoundError(f"no contact with id {cid}; nothing was merged")
                if rows[cid].deleted_at is not None:
                    raise ValidationError(f"contact {cid} is deleted; restore it before merging (nothing was merged)")
            if rows[survivor_id].kind != rows[merged_id].kind:
                raise ValidationError(
                    f"contact {survivor_id} is a {rows[survivor_id].kind} and {merged_id} a {rows[merged_id].kind}; only contacts of one kind merge"
                )
            records = book.records([survivor_id, merged_id])
            survivor, merged = records[survivor_id], records[merged_id]
            before = snapshot(survivor)
            other = snapshot(merged)
            merged_at = merged.updated_at or merged.created_at
            survivor_at = survivor.updated_at or survivor.created_at
            newest_is_merged = merged_at is not None and survivor_at is not None and merged_at > survivor_at
            changes: dict[str, Any] = {}
            for field in _SCALARS:
                rule = rules.get(field, "survivor")
                mine, theirs = before[field], other[field]
                if theirs in (None, "") or theirs == mine or (field == "organization_id" and theirs == survivor_id):
                    continue
                if not mine or rule == "merged" or (rule == "newest" and newest_is_merged):
                    changes[field] = theirs
            if merged.do_not_contact and not survivor.do_not_contact:
                changes["do_not_contact"] = True  # a wish not to be contacted survives any merge
            for key, ident in (("emails", "address"), ("phones", "number")):
                have = {item[ident] for item in before[key]}
                extra = [dict(item, primary=False) for item in other[key] if item[ident] not in have]
                if extra:
                    changes[key] = before[key] + extra
            parts = ("street", "extra", "city", "postal_code", "region", "country")
            have_addresses = {tuple(a[p] for p in parts) for a in before["addresses"]}
            extra_addresses = [
                dict(a, primary=False) for a in other["addresses"] if tuple(a[p] for p in parts) not in have_addresses
            ]
            if extra_addresses:
                changes["addresses"] = before["addresses"] + extra_addresses
            if set(other["tags"]) - set(before["tags"]):
                changes["tags"] = sorted(set(before["tags"]) | set(other["tags"]))
            missing_custom = {k: v for k, v in other["custom"].items() if k not in before["custom"]}
            if missing_custom:
                changes["custom"] = missing_custom
            for key in ("emails", "phones", "addresses"):
                if key in changes and not any(i["primary"] for i in changes[key]):
                    changes[key][0]["primary"] = True
            row = rows[survivor_id]
            book.apply_update(row, survivor, changes, actor=actor, channel=channel)
            moved_rows: dict[str, Any] = self._move_own(survivor_id, merged_id)
            # unmerge clears a do-not-contact the merge set, never one asked for while merged
            moved_rows["contacts_contact.do_not_contact"] = bool(changes.get("do_not_contact"))
            now = self.crm.clock.now()
            Contact.update(deleted_at=now, merged_into=survivor_id, updated_at=now).where(
                Contact.id == merged_id
            ).execute()
            moved_by_plugins = self.crm.hooks.contacts_merged(self.crm, survivor_id, merged_id)
            record = Merge.create(
                survivor_id=survivor_id,
                merged_id=merged_id,
                actor=actor,
                created_at=now,
                survivor_before=json.dumps(
                    {
                        **before,
                        "status_changed_at": survivor.status_changed_at.isoformat()
                        if survivor.status_changed_at
                        else None,
                    }
                ),
                moved_rows=json.dumps(moved_rows),
                moved_by_plugins=json.dumps(moved_by_plugins),
            )
            self.crm.emit(
                ContactsMerged(
                    survivor_id=survivor_id, merged_id=merged_id, merge_id=record.id, actor=actor, channel=channel
                )
            )
        return record.id

    def _move_own(self, survivor_id: int, merged_id: int) -> dict[str, Any]:
        """Point this plugin's rows at the survivor: organization members and list memberships.

        A list both are on keeps both memberships (the merged one comes back
        on unmerge); if the merged contact had left it and the survivor had
        not, the survivor leaves it too, at the same time: it is one person,
        who asked not to get that list. What was copied is recorded, as
        ``[membership id, unsubscribed_at]``, so that unmerge can undo it.
        """
        members = [
            r[0] for r in Contact.select(Contact.id).where(Contact.organization == merged_id).tuples().iterator()
        ]
        if members:
            Contact.update(organization=survivor_id).where(Contact.id.in_(members)).execute()
        left = dict(
            ListMember.select(ListMember.mailing_list, ListMember.unsubscribed_at)
            .where((ListMember.contact == merged_id) & ListMember.unsubscribed_at.is_null(False))
            .tuples()
            .iterator()
        )
        copied: list[list[Any]] = []
        if left:
            on_lists = ListMember.select(ListMember.id, ListMember.mailing_list).where(
                (ListMember.contact == survivor_id)
                & ListMember.mailing_list.in_(list(left))
                & ListMember.unsubscribed_at.is_null()
            )
            for member_id, list_id in on_lists.tuples().iterator():
                ListMember.update(unsubscribed_at=left[list_id]).where(ListMember.id == member_id).execute()
                copied.append([member_id, left[list_id].isoformat()])
        on_survivor = ListMember.select(ListMember.mailing_list).where(ListMember.contact == survivor_id)
        lists = [
            r[0]
            for r in ListMember.select(ListMember.id)
            .where((ListMember.contact == merged_id) & ListMember.mailing_list.not_in(on_survivor))
            .tuples()
            .iterator()
        ]
        if lists:
            ListMember.update(contact=survivor_id).where(ListMember.id.in_(lists)).execute()
        return {
            "contacts_contact.organization_id": members,
            "contacts_list_member": lists,
            "contacts_list_member.unsubscribed_at": copied,
        }

    def merges(self, contact_id: int | None = None, *, visible: Any = None) -> list[dict[str, Any]]:
        """Merges made (newest first), optionally only those involving one contact; with ``visible``, those whose survivor it keeps."""
        with self.crm.activate():
            query = Merge.select().order_by(Merge.id.desc())
            if visible is not None:
                query = query.where(Merge.survivor_id.in_(Contact.select(Contact.id).where(visible)))
            if contact_id is not None:
                query = query.where((Merge.survivor_id == contact_id) | (Merge.merged_id == contact_id))
            return [
                {
                    "id": m.id,
                    "survivor_id": m.survivor_id,
                    "merged_id": m.merged_id,
                    "actor": m.actor,
                    "at": m.created_at,
                    "undone_at": m.undone_at,
                }
                for m in query
            ]

    def latest_merge(self, merged_id: int) -> tuple[int, int]:
        """``(merge id, survivor id)`` of the merge :meth:`unmerge` would undo; ``NotFoundError`` when there is none."""
        with self.crm.activate():
            record = (
                Merge.select(Merge.id, Merge.survivor_id)
                .where((Merge.merged_id == int(merged_id)) & Merge.undone_at.is_null())
                .order_by(Merge.id.desc())
                .first()
            )
        if record is None:
            raise NotFoundError(f"contact {merged_id} has no merge to undo; see 'crm contacts merges'")
        return record.id, record.survivor_id

    def unmerge(self, merged_id: int, *, actor: str | None = None, channel: str = "staff") -> int:
        """Undo the latest merge of contact ``merged_id``; returns the merge id.

        The survivor gets back the fields it had before, the merged contact
        comes back, and this plugin's and every other plugin's moved
        references return to it. Emits ``ContactChanged`` and ``ContactsUnmerged``.
        """
        check_channel(channel)
        book = self._book
        with self.crm.transaction():
            record = (
                Merge.select()
                .where((Merge.merged_id == int(merged_id)) & Merge.undone_at.is_null())
                .order_by(Merge.id.desc())
                .first()
            )
            if record is None:
                raise NotFoundError(f"contact {merged_id} has no merge to undo; see 'crm contacts merges'")
            before = json.loads(record.survivor_before)
            if not before:
                raise ValidationError(f"merge {record.id} cannot be undone: one of its contacts was erased")
            survivor = Contact.get_or_none(Contact.id == record.survivor_id)
            if survivor is None or survivor.deleted_at is not None:
                raise ValidationError(
                    f"contact {record.survivor_id}, which {merged_id} was merged into, is deleted; restore it first"
                )
            before.pop("status_changed_at", None)
            current = book.records([survivor.id])[survivor.id]
            moved = json.loads(record.moved_rows)
            if current.do_not_contact and not moved.get("contacts_contact.do_not_contact", True):
                before["do_not_contact"] = True  # asked for while merged: an unmerge does not undo it
            # custom fields merge on update: remove the ones the merge added
            before["custom"] = {**{k: None for k in current.custom if k not in before["custom"]}, **before["custom"]}
            book.apply_update(
                survivor, current, {k: v for k, v in before.items() if k != "kind"}, actor=actor, channel=channel
            )
            if moved.get("contacts_contact.organization_id"):
                Contact.update(organization=record.merged_id).where(
                    Contact.id.in_(moved["contacts_contact.organization_id"])
                ).execute()
            if moved.get("contacts_list_member"):
                ListMember.update(contact=record.merged_id).where(
                    ListMember.id.in_(moved["contacts_list_member"])
                ).execute()
            for member_id, copied_at in moved.get("contacts_list_member.unsubscribed_at", []):
                # only what the merge copied, and only if nobody changed it since (a resubscribe, a new unsubscribe)
                member = ListMember.get_or_none(ListMember.id == member_id)
                if (
                    member is not None
                    and member.unsubscribed_at is not None
                    and member.unsubscribed_at.isoformat() == copied_at
                ):
                    ListMember.update(unsubscribed_at=None).where(ListMember.id == member_id).execute()
            now = self.crm.clock.now()
            Contact.update(deleted_at=None, merged_into=None, updated_at=now).where(
                Contact.id == record.merged_id
            ).execute()
            self.crm.hooks.contacts_unmerged(
                self.crm, record.survivor_id, record.merged_id, json.loads(record.moved_by_plugins)
            )
            Merge.update(undone_at=now).where(Merge.id == record.id).execute()
            self.crm.emit(
                ContactsUnmerged(
                    survivor_id=record.survivor_id,
                    merged_id=record.merged_id,
                    merge_id=record.id,
                    actor=actor,
                    channel=channel,
                )
            )
        return record.id

"""Duplicates and merges.

:meth:`Merging.find_duplicates` pairs contacts that share a normalised
e-mail or phone, or whose names are alike within one organization or city,
and says why. :meth:`Merging.merge` folds one contact into another with a
rule per field, moves the references this plugin and every other plugin
hold (through ``crm_contacts_merged``), and records enough to undo it with
:meth:`Merging.unmerge` (which calls ``crm_contacts_unmerged``).
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Mapping

import attrs
import peewee
from crm_hookspecs.events import ContactsMerged, ContactsUnmerged

from crm_core.errors import NotFoundError, ValidationError

from crm_contacts.book import check_channel, chunks
from crm_contacts.models import Contact, ContactAddress, ContactEmail, ContactPhone, ListMember, Merge
from crm_contacts.records import snapshot

__all__ = ["DuplicatePair", "MERGE_RULES", "Merging"]

#: how a scalar field's surviving value is chosen
MERGE_RULES = ("survivor", "merged", "newest")
_SCALARS = ("display_name", "first_name", "last_name", "organization_id", "status", "region", "country", "owner", "language", "external_id", "notes")


@attrs.frozen
class DuplicatePair:
    """Two contacts that are probably one, and why."""

    first_id: int
    second_id: int
    first_name: str
    second_name: str
    reasons: tuple[str, ...]


class Merging:
    """The duplicates and merge part of ``crm.plugin("contacts")``."""

    crm: Any

    def find_duplicates(self, limit: int = 100) -> list[DuplicatePair]:
        """Likely duplicate pairs among live contacts, lowest ids first, with the reasons."""
        reasons: dict[tuple[int, int], list[str]] = {}
        with self.crm.activate():
            for model, column, what in ((ContactEmail, ContactEmail.address, "e-mail"), (ContactPhone, ContactPhone.number, "phone")):
                other = model.alias("o")
                other_column = getattr(other, column.name)
                second = Contact.alias("c2")
                query = (
                    model.select(model.contact, other.contact, column)
                    .join(other, on=((other_column == column) & (other.contact > model.contact)))
                    .join_from(model, Contact, on=(Contact.id == model.contact))
                    .join_from(other, second, on=(second.id == other.contact))
                    .where(Contact.deleted_at.is_null() & second.deleted_at.is_null())
                    .tuples()
                )
                for a, b, value in query:
                    reasons.setdefault((a, b), []).append(f"same {what} {value}")
            for pair, why in self._similar_names().items():
                reasons.setdefault(pair, []).extend(why)
            pairs = sorted(reasons)[:limit]
            names = dict(Contact.select(Contact.id, Contact.display_name).where(Contact.id.in_({i for p in pairs for i in p})).tuples()) if pairs else {}
        return [DuplicatePair(a, b, names.get(a, ""), names.get(b, ""), tuple(dict.fromkeys(reasons[(a, b)]))) for a, b in pairs]

    def _similar_names(self) -> dict[tuple[int, int], list[str]]:
        """Pairs of people with alike names in one organization or city, kept only with a second signal.

        Names alike (the same normalised full name, or ``duplicate_name_similarity``
        or more) are a candidate, not a match: common names repeat in any
        city. A candidate is kept when nothing contradicts it (the two do not
        each have e-mails none of which they share, nor phones) and they share
        the organization, the postal address or the city; with the same full
        name, the same organization and the same address, one such difference
        is forgiven (a person's new work address). The reasons say which.
        """
        threshold = self.crm.settings("contacts").duplicate_name_similarity
        rows = list(
            Contact.select(Contact.id, Contact.name_key, Contact.organization, ContactAddress.city, ContactAddress.street, ContactAddress.postal_code)
            .join(ContactAddress, on=((ContactAddress.contact == Contact.id) & (ContactAddress.is_primary == True)), join_type=peewee.JOIN.LEFT_OUTER)  # noqa: E712
            .where(Contact.deleted_at.is_null() & (Contact.kind == "person"))
            .tuples()
        )
        people = {r[0]: r for r in rows}
        groups: dict[tuple[str, Any, str], list[int]] = {}
        for cid, key, org, city, _, _ in rows:
            if not key:
                continue
            # compared only within a block of the same first letters: names
            # differing there are not the typos this looks for
            if org:
                groups.setdefault(("organization", org, key[:2]), []).append(cid)
            if city:
                groups.setdefault(("city", city.lower(), key[:2]), []).append(cid)
        candidates: dict[tuple[int, int], float] = {}
        matcher = difflib.SequenceMatcher(None)
        for members in groups.values():
            for i, a in enumerate(members):
                name_a = people[a][1]
                # the second sequence is the one SequenceMatcher indexes: once per name
                matcher.set_seq2(name_a)
                for b in members[i + 1 :]:
                    pair = (min(a, b), max(a, b))
                    if pair in candidates:
                        continue
                    name_b = people[b][1]
                    if name_a == name_b:
                        candidates[pair] = 1.0
                        continue
                    matcher.set_seq1(name_b)
                    # the quick ratios are upper bounds of ratio(): same answers, far fewer full comparisons
                    if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                        continue
                    ratio = matcher.ratio()
                    if ratio >= threshold:
                        candidates[pair] = ratio
        if not candidates:
            return {}
        ids = sorted({i for pair in candidates for i in pair})
        emails: dict[int, set[str]] = {}
        phones: dict[int, set[str]] = {}
        for part in chunks(ids):
            for cid, value in ContactEmail.select(ContactEmail.contact, ContactEmail.address).where(ContactEmail.contact.in_(part)).tuples():
                emails.setdefault(cid, set()).add(value)
            for cid, value in ContactPhone.select(ContactPhone.contact, ContactPhone.number).where(ContactPhone.contact.in_(part)).tuples():
                phones.setdefault(cid, set()).add(value)
        org_ids = {people[i][2] for i in ids if people[i][2]}
        org_names = dict(Contact.select(Contact.id, Contact.display_name).where(Contact.id.in_(list(org_ids))).tuples()) if org_ids else {}
        out: dict[tuple[int, int], list[str]] = {}
        for (a, b), ratio in candidates.items():
            _, _, org_a, city_a, street_a, postal_a = people[a]
            _, _, org_b, city_b, street_b, postal_b = people[b]
            conflicts = []
            if emails.get(a) and emails.get(b) and not emails[a] & emails[b]:
                conflicts.append("e-mails")
            if phones.get(a) and phones.get(b) and not phones[a] & phones[b]:
                conflicts.append("phones")
            same_org = bool(org_a) and org_a == org_b
            same_address = bool(street_a) and (street_a.lower(), postal_a, (city_a or "").lower()) == (street_b.lower() if street_b else None, postal_b, (city_b or "").lower())
            same_city = bool(city_a) and (city_a or "").lower() == (city_b or "").lower()
            exact = ratio == 1.0
            if conflicts and not (exact and same_org and same_address and len(conflicts) == 1):
                continue
            if not (same_org or same_address or same_city):
                continue
            name = "same name" if exact else f"similar names ({ratio:.0%})"
            where = []
            if same_org:
                where.append(f"in organization {org_names.get(org_a, '#' + str(org_a))}")
            if same_address:
                where.append(f"at the same postal address ({street_a}, {city_a})")
            elif same_city:
                where.append(f"in {city_a}")
            why = [f"{name} {' and '.join(where)}"]
            why.append(f"though their {conflicts[0]} differ" if conflicts else "no e-mail or phone that differs")
            out[(a, b)] = why
        return out

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
                raise ValidationError(f"merge rule for {field!r}: not a field with one value; the fields are: {', '.join(_SCALARS)}")
            if rule not in MERGE_RULES:
                raise ValidationError(f"merge rule {field}={rule!r}: use one of {', '.join(MERGE_RULES)}")
        if survivor_id == merged_id:
            raise ValidationError(f"cannot merge contact {survivor_id} with itself; name two different contacts")
        book: Any = self
        with self.crm.transaction():
            rows = {r.id: r for r in Contact.select().where(Contact.id.in_([survivor_id, merged_id]))}
            for cid in (survivor_id, merged_id):
                if cid not in rows:
                    raise NotFoundError(f"no contact with id {cid}; nothing was merged")
                if rows[cid].deleted_at is not None:
                    raise ValidationError(f"contact {cid} is deleted; restore it before merging (nothing was merged)")
            if rows[survivor_id].kind != rows[merged_id].kind:
                raise ValidationError(f"contact {survivor_id} is a {rows[survivor_id].kind} and {merged_id} a {rows[merged_id].kind}; only contacts of one kind merge")
            records = book._records([survivor_id, merged_id])
            survivor, merged = records[survivor_id], records[merged_id]
            before = snapshot(survivor)
            other = snapshot(merged)
            newest_is_merged = (merged.updated_at or merged.created_at) > (survivor.updated_at or survivor.created_at)
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
            extra_addresses = [dict(a, primary=False) for a in other["addresses"] if tuple(a[p] for p in parts) not in have_addresses]
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
            book._apply_update(row, survivor, changes, actor=actor, channel=channel)
            moved_rows = self._move_own(survivor_id, merged_id)
            now = self.crm.clock.now()
            Contact.update(deleted_at=now, merged_into=survivor_id, updated_at=now).where(Contact.id == merged_id).execute()
            moved_by_plugins = self.crm.hooks.contacts_merged(self.crm, survivor_id, merged_id)
            record = Merge.create(
                survivor_id=survivor_id, merged_id=merged_id, actor=actor, created_at=now,
                survivor_before=json.dumps({**before, "status_changed_at": survivor.status_changed_at.isoformat() if survivor.status_changed_at else None}),
                moved_rows=json.dumps(moved_rows), moved_by_plugins=json.dumps(moved_by_plugins),
            )
            self.crm.emit(ContactsMerged(survivor_id=survivor_id, merged_id=merged_id, merge_id=record.id, actor=actor, channel=channel))
        return record.id

    def _move_own(self, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
        """Point this plugin's rows at the survivor: organization members and list memberships."""
        members = [r[0] for r in Contact.select(Contact.id).where(Contact.organization == merged_id).tuples()]
        if members:
            Contact.update(organization=survivor_id).where(Contact.id.in_(members)).execute()
        on_survivor = ListMember.select(ListMember.mailing_list).where(ListMember.contact == survivor_id)
        lists = [r[0] for r in ListMember.select(ListMember.id).where((ListMember.contact == merged_id) & ListMember.mailing_list.not_in(on_survivor)).tuples()]
        if lists:
            ListMember.update(contact=survivor_id).where(ListMember.id.in_(lists)).execute()
        return {"contacts_contact.organization_id": members, "contacts_list_member": lists}

    def merges(self, contact_id: int | None = None) -> list[dict[str, Any]]:
        """Merges made (newest first), optionally only those involving one contact."""
        with self.crm.activate():
            query = Merge.select().order_by(Merge.id.desc())
            if contact_id is not None:
                query = query.where((Merge.survivor_id == contact_id) | (Merge.merged_id == contact_id))
            return [
                {"id": m.id, "survivor_id": m.survivor_id, "merged_id": m.merged_id, "actor": m.actor, "at": m.created_at, "undone_at": m.undone_at}
                for m in query
            ]

    def unmerge(self, merged_id: int, *, actor: str | None = None, channel: str = "staff") -> int:
        """Undo the latest merge of contact ``merged_id``; returns the merge id.

        The survivor gets back the fields it had before, the merged contact
        comes back, and this plugin's and every other plugin's moved
        references return to it. Emits ``ContactChanged`` and ``ContactsUnmerged``.
        """
        check_channel(channel)
        book: Any = self
        with self.crm.transaction():
            record = Merge.select().where((Merge.merged_id == int(merged_id)) & Merge.undone_at.is_null()).order_by(Merge.id.desc()).first()
            if record is None:
                raise NotFoundError(f"contact {merged_id} has no merge to undo; see 'crm contacts merges'")
            before = json.loads(record.survivor_before)
            if not before:
                raise ValidationError(f"merge {record.id} cannot be undone: one of its contacts was erased")
            survivor = Contact.get_or_none(Contact.id == record.survivor_id)
            if survivor is None or survivor.deleted_at is not None:
                raise ValidationError(f"contact {record.survivor_id}, which {merged_id} was merged into, is deleted; restore it first")
            before.pop("status_changed_at", None)
            current = book._records([survivor.id])[survivor.id]
            # custom fields merge on update: remove the ones the merge added
            before["custom"] = {**{k: None for k in current.custom if k not in before["custom"]}, **before["custom"]}
            book._apply_update(survivor, current, {k: v for k, v in before.items() if k != "kind"}, actor=actor, channel=channel)
            moved = json.loads(record.moved_rows)
            if moved.get("contacts_contact.organization_id"):
                Contact.update(organization=record.merged_id).where(Contact.id.in_(moved["contacts_contact.organization_id"])).execute()
            if moved.get("contacts_list_member"):
                ListMember.update(contact=record.merged_id).where(ListMember.id.in_(moved["contacts_list_member"])).execute()
            now = self.crm.clock.now()
            Contact.update(deleted_at=None, merged_into=None, updated_at=now).where(Contact.id == record.merged_id).execute()
            self.crm.hooks.contacts_unmerged(self.crm, record.survivor_id, record.merged_id, json.loads(record.moved_by_plugins))
            Merge.update(undone_at=now).where(Merge.id == record.id).execute()
            self.crm.emit(ContactsUnmerged(survivor_id=record.survivor_id, merged_id=record.merged_id, merge_id=record.id, actor=actor, channel=channel))
        return record.id

"""The duplicate finder as it was before issue 12, kept to check the new one against.

It compares every two people of an organization or a city whose names
start alike (``difflib``, in Python): right, but quadratic (155,000
contacts took 22 minutes). ``test_duplicates.py`` requires the new finder
(``crm_contacts.duplicates``) to report the same pairs with the same
reasons on generated books, and ``bench/bench_duplicates.py`` times it as
the baseline at small sizes. Copied from ``crm_contacts/merging.py``
(commit 406a8d9) with only the result changed: every pair, no limit, no names.
"""

from __future__ import annotations

import difflib
from typing import Any

import peewee

from crm_contacts.book import IN_CHUNK
from crm_contacts.models import Contact, ContactAddress, ContactEmail, ContactPhone
from crm_core.storage import batched


class ReferenceFinder:
    """``ReferenceFinder(crm).find_duplicates()``: ``{(first_id, second_id): reasons}``."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm

    def find_duplicates(self) -> dict[tuple[int, int], tuple[str, ...]]:
        """Every pair the old finder reports, with its reasons."""
        reasons: dict[tuple[int, int], list[str]] = {}
        with self.crm.activate():
            for model, column, what in (
                (ContactEmail, ContactEmail.address, "e-mail"),
                (ContactPhone, ContactPhone.number, "phone"),
            ):
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
        return {pair: tuple(dict.fromkeys(reasons[pair])) for pair in sorted(reasons)}

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
            Contact.select(
                Contact.id,
                Contact.name_key,
                Contact.organization,
                ContactAddress.city,
                ContactAddress.street,
                ContactAddress.postal_code,
            )
            .join(
                ContactAddress,
                on=((ContactAddress.contact == Contact.id) & (ContactAddress.is_primary == True)),  # noqa: E712
                join_type=peewee.JOIN.LEFT_OUTER,
            )
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
        for part in batched(ids, IN_CHUNK):
            for cid, value in (
                ContactEmail.select(ContactEmail.contact, ContactEmail.address)
                .where(ContactEmail.contact.in_(part))
                .tuples()
            ):
                emails.setdefault(cid, set()).add(value)
            for cid, value in (
                ContactPhone.select(ContactPhone.contact, ContactPhone.number)
                .where(ContactPhone.contact.in_(part))
                .tuples()
            ):
                phones.setdefault(cid, set()).add(value)
        org_ids = {people[i][2] for i in ids if people[i][2]}
        org_names = (
            dict(Contact.select(Contact.id, Contact.display_name).where(Contact.id.in_(list(org_ids))).tuples())
            if org_ids
            else {}
        )
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
            same_address = bool(street_a) and (street_a.lower(), postal_a, (city_a or "").lower()) == (
                street_b.lower() if street_b else None,
                postal_b,
                (city_b or "").lower(),
            )
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

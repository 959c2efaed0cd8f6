"""The import's matching policy: which keys identify a contact, and when a match is a conflict.

* **Identifying keys**: this database's own contact id (``crm:<uuid>:<id>``,
  see :mod:`crm_contacts.identity`; any other id is not used), the external
  id, and any normalised e-mail address.
* **A phone number only confirms**: it finds a contact only together with
  that contact's name (the words of one name are all in the other,
  compared without case, accents or punctuation). A row whose only link to
  a contact is its phone number creates a new contact; the duplicate
  finder can propose the pair later.
* **Organizations** (rows of kind ``organization``, and the names in an
  ``organization`` column) are found by normalised name, never created
  twice; an organization whose external id differs is another one.
* **Conflicts**: a row that matches a contact whose kind differs, or whose
  name differs strongly (no word in common and a similarity under
  :data:`NAME_SIMILARITY`), or that matches two different contacts through
  two keys, is reported and left unchanged, unless the caller asks for
  ``on_conflict="update"``.

The functions here are pure; :class:`crm_contacts.importing.Importer` runs
the queries.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from crm_contacts.normalize import name_key

__all__ = [
    "CONFLICT_CHOICES",
    "DEFAULT_MATCH_KEYS",
    "MATCH_KEYS",
    "NAME_SIMILARITY",
    "Candidate",
    "MatchKey",
    "conflict",
    "name_words",
    "names_differ",
    "row_keys",
    "same_person",
]

MATCH_KEYS = ("id", "external_id", "email", "phone")
#: the keys an import matches on unless told otherwise: a phone number is not one of them, so that
#: a row whose only link to a contact is a phone number creates a new contact (the duplicate finder
#: proposes the pair later); naming ``phone`` matches a phone together with the same name
DEFAULT_MATCH_KEYS = ("id", "external_id", "email")
CONFLICT_CHOICES = ("skip", "update")
#: below this similarity (difflib's ratio of the normalised names), names with no word in common differ strongly
NAME_SIMILARITY = 0.6
#: a key a row is matched on: ``(kind, value)``, or ``("phone", number, names)`` (see :func:`row_keys`)
MatchKey = tuple[Any, ...]
_WORD = re.compile(r"[^\W_]+")
_KEY_NAMES = {"id": "id", "external_id": "external id", "email": "e-mail", "phone": "phone", "org": "organization name"}


@attrs.frozen
class Candidate:
    """What matching needs to know about an existing contact."""

    id: int
    kind: str
    display_name: str
    first_name: str = ""
    last_name: str = ""
    external_id: str | None = None


def name_words(*parts: str | None) -> frozenset[str]:
    """The words of a name, lower-case and accent-free: ``"Núñez, M. José"`` → ``{"nunez", "m", "jose"}``."""
    return frozenset(_WORD.findall(name_key(*parts)))


def row_names(fields: Mapping[str, Any]) -> list[str]:
    """The names a row gives (its display name, and first + last name), normalised; empty when it gives none."""
    out = []
    if fields.get("display_name"):
        out.append(name_key(fields["display_name"]))
    joined = name_key(fields.get("first_name"), fields.get("last_name"))
    if joined and joined not in out:
        out.append(joined)
    return out


def contact_names(contact: Candidate | Mapping[str, Any]) -> list[str]:
    get = (lambda k: getattr(contact, k)) if isinstance(contact, Candidate) else contact.get
    out = [name_key(get("display_name"))]
    joined = name_key(get("first_name"), get("last_name"))
    if joined and joined not in out:
        out.append(joined)
    return [n for n in out if n]


def names_differ(a: Sequence[str], b: Sequence[str]) -> bool:
    """Whether every name of ``a`` differs strongly from every name of ``b`` (see the module docstring)."""
    if not a or not b:
        return False
    for x in a:
        words_x = set(_WORD.findall(x))
        for y in b:
            if words_x & set(_WORD.findall(y)):
                return False
            if difflib.SequenceMatcher(None, x, y).ratio() >= NAME_SIMILARITY:
                return False
    return True


def same_person(row: Sequence[str], contact: Sequence[str]) -> bool:
    """Whether the names are one person's for a phone match: all the words of one are in the other."""
    for x in row:
        wx = set(_WORD.findall(x))
        for y in contact:
            wy = set(_WORD.findall(y))
            if wx and wy and (wx <= wy or wy <= wx):
                return True
    return False


def row_keys(fields: Mapping[str, Any], own_id: int | None, match_on: Sequence[str]) -> list[MatchKey]:
    """The keys a row can be matched on, most trusted first.

    ``("phone", number, names)`` keys carry the row's names, which the phone
    needs to match; ``("org", name)`` is a row of kind organization's name.
    """
    keys: list[MatchKey] = []
    if "id" in match_on and own_id is not None:
        keys.append(("id", own_id))
    if "external_id" in match_on and fields.get("external_id"):
        keys.append(("external_id", fields["external_id"]))
    if "email" in match_on:
        keys += [("email", e["address"]) for e in fields.get("emails", ()) if e.get("verified", True)]
    if fields.get("kind") == "organization" and fields.get("display_name"):
        keys.append(("org", name_key(fields["display_name"])))
    if "phone" in match_on:
        names = tuple(row_names(fields))
        if names:
            keys += [("phone", p["number"], names) for p in fields.get("phones", ()) if p.get("verified", True)]
    return keys


def describe(key: MatchKey) -> str:
    """``e-mail ana@example.com``: a key as a report names it."""
    if key[0] == "id":
        return f"id {key[1]}"
    return f"{_KEY_NAMES[key[0]]} {key[1]}"


def conflict(
    fields: Mapping[str, Any], kind: str, names: Sequence[str], label: str, key: MatchKey
) -> tuple[str, str] | None:
    """``(field, reason)`` when a row matched through ``key`` must not change the contact, else ``None``.

    ``kind`` and ``names`` are the matched contact's (see :func:`contact_names`),
    ``label`` names it in the reason (``contact 12 'Ana García'``).
    """
    row_kind = fields.get("kind")
    if row_kind and row_kind != kind:
        return (
            "kind",
            f"is {row_kind} but matches {label} by {describe(key)}, which is {'an' if kind == 'organization' else 'a'} {kind}",
        )
    mine = row_names(fields)
    if names_differ(mine, names):
        return "name", f"{mine[0]!r} matches {label} by {describe(key)}, whose name differs"
    return None

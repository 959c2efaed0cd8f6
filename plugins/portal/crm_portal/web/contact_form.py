"""The self-service form's fields: what they show, how a post is read back, how a change is described.

The form shows only the fields the link covers. Lists (e-mails, phones,
addresses) are rows named ``emails-<i>-address``…, one per current item
plus an empty one to add (a script adds more, up to :data:`MAX_ROWS`), and
a radio ``<list>-primary`` naming the main one. Values are checked here
for what the portal can say in the person's language (length, line breaks,
an address's shape, the choices offered); the contacts plugin then checks
and normalises them as for any edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crm_portal import fields as checks
from crm_portal.i18n import N_
from crm_portal.i18n import gettext as _

__all__ = ["ALL_FIELDS", "MAX_ROWS", "describe", "initial_values", "parse"]

MAX_ROWS = 10
#: the fields this form knows how to show, in the order they are shown
ALL_FIELDS = ("first_name", "last_name", "display_name", "language", "emails", "phones", "addresses", "do_not_contact")
TEXT_FIELDS = {
    "first_name": (N_("First name"), checks.MAX_NAME, "given-name"),
    "last_name": (N_("Last name"), checks.MAX_NAME, "family-name"),
    "display_name": (N_("Name to show"), 300, "name"),
}
LABELS = {
    **{name: label for name, (label, _max, _auto) in TEXT_FIELDS.items()},
    "language": N_("Language"),
    "emails": N_("E-mail addresses"),
    "phones": N_("Phone numbers"),
    "addresses": N_("Postal addresses"),
    "do_not_contact": N_("Do not contact me"),
}
EMAIL_KINDS = {"home": N_("Personal"), "work": N_("Work"), "other": N_("Other")}
PHONE_KINDS = {"mobile": N_("Mobile"), "home": N_("Home"), "work": N_("Work"), "fax": N_("Fax"), "other": N_("Other")}
ADDRESS_KINDS = {"home": N_("Home"), "work": N_("Work"), "other": N_("Other")}
ADDRESS_PARTS = (
    ("street", N_("Street and number"), 300, "address-line1"),
    ("extra", N_("Address line 2"), 300, "address-line2"),
    ("postal_code", N_("Postal code"), 20, "postal-code"),
    ("city", N_("City"), 150, "address-level2"),
    ("region", N_("Province or region"), 150, "address-level1"),
)
MAX_PHONE = 30
MAX_EXTENSION = 20

Problem = tuple[str, dict[str, Any]]


def initial_values(fields: tuple[str, ...], current: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values from the contact's current details."""
    values: dict[str, Any] = {}
    for field in fields:
        value = current.get(field)
        if field in ("emails", "phones", "addresses"):
            values[field] = [dict(item) for item in (value or [])]
        elif field == "do_not_contact":
            values[field] = bool(value)
        else:
            values[field] = value or ""
    return values


def _rows(form: Mapping[str, str], prefix: str, problems: dict[str, Problem]) -> list[int]:
    indexes = set()
    for key in form:
        head, _sep, rest = key.partition("-")
        if head == prefix and rest and rest.split("-", 1)[0].isdigit():
            indexes.add(int(rest.split("-", 1)[0]))
    if any(i >= MAX_ROWS for i in indexes):
        problems[prefix] = (N_("Give at most %(max)s of these."), {"max": MAX_ROWS})
    return sorted(i for i in indexes if i < MAX_ROWS)


def out_of_scope(form: Mapping[str, str], fields: tuple[str, ...]) -> list[str]:
    """Contact fields the post tries to change although the link does not cover them."""
    posted = {key.split("-", 1)[0] for key in form}
    return [f for f in ALL_FIELDS if f in posted and f not in fields]


def parse(
    fields: tuple[str, ...], form: Mapping[str, str], languages: tuple[str, ...], current: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Problem]]:
    """Read a posted form: ``(values to show again, changes for the contacts plugin, problems by input name)``.

    A name is handed on only when it differs from the current one, so that
    a shown name that follows the first and last name keeps following them;
    an emptied "name to show" asks for it to follow them again.
    """
    values: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    problems: dict[str, Problem] = {}
    for field in fields:
        if field in TEXT_FIELDS:
            text = form.get(field, "")
            values[field] = text
            problem = checks.check_line(text, TEXT_FIELDS[field][1])
            if problem:
                problems[field] = problem
            if text.strip() != (current.get(field) or "").strip():
                changes[field] = text.strip()
        elif field == "language":
            chosen = form.get(field, "")
            values[field] = chosen
            if chosen and chosen not in languages:
                problems[field] = (N_("Choose one of the languages offered."), {})
            changes[field] = chosen or None
        elif field == "do_not_contact":
            values[field] = changes[field] = form.get(field) == "yes"
        elif field == "emails":
            values[field], changes[field] = _emails(form, problems)
        elif field == "phones":
            values[field], changes[field] = _phones(form, problems)
        elif field == "addresses":
            values[field], changes[field] = _addresses(form, problems)
    if changes.get("display_name") == "":
        first = changes.get("first_name", current.get("first_name") or "")
        last = changes.get("last_name", current.get("last_name") or "")
        changes["display_name"] = " ".join(p for p in (first, last) if p)
    return values, changes, problems


def _kind(form: Mapping[str, str], name: str, kinds: Mapping[str, str], problems: dict[str, Problem]) -> str:
    kind = form.get(name, "other") or "other"
    if kind not in kinds:
        problems[name] = (N_("Choose one of the types offered."), {})
        return "other"
    return kind


def _emails(form: Mapping[str, str], problems: dict[str, Problem]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shown, items = [], []
    primary = form.get("emails-primary", "")
    for i in _rows(form, "emails", problems):
        address = form.get(f"emails-{i}-address", "")
        kind = _kind(form, f"emails-{i}-kind", EMAIL_KINDS, problems)
        item = {"address": address, "kind": kind, "primary": primary == str(i)}
        if not address.strip():
            continue
        problem = checks.check_email(address)
        if problem:
            problems[f"emails-{i}-address"] = problem
        shown.append(item)
        items.append({**item, "address": address.strip()})
    return shown, items


def _phones(form: Mapping[str, str], problems: dict[str, Problem]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    shown, items = [], []
    primary = form.get("phones-primary", "")
    for i in _rows(form, "phones", problems):
        number = form.get(f"phones-{i}-number", "")
        extension = form.get(f"phones-{i}-extension", "")
        kind = _kind(form, f"phones-{i}-kind", PHONE_KINDS, problems)
        item = {"number": number, "extension": extension, "kind": kind, "primary": primary == str(i)}
        if not number.strip():
            if extension.strip():
                problems[f"phones-{i}-number"] = (N_("Give the number of this extension."), {})
                shown.append(item)
            continue
        for name, text, limit in (
            (f"phones-{i}-number", number, MAX_PHONE),
            (f"phones-{i}-extension", extension, MAX_EXTENSION),
        ):
            problem = checks.check_line(text, limit)
            if problem:
                problems[name] = problem
        shown.append(item)
        out = {"number": number.strip(), "kind": kind, "primary": item["primary"]}
        if extension.strip():
            out["extension"] = extension.strip()
        items.append(out)
    return shown, items


def _addresses(
    form: Mapping[str, str], problems: dict[str, Problem]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from crm_portal.i18n import country_names

    countries = country_names("en")
    shown, items = [], []
    primary = form.get("addresses-primary", "")
    for i in _rows(form, "addresses", problems):
        item: dict[str, Any] = {
            "kind": _kind(form, f"addresses-{i}-kind", ADDRESS_KINDS, problems),
            "primary": primary == str(i),
        }
        for part, _label, limit, _auto in ADDRESS_PARTS:
            text = form.get(f"addresses-{i}-{part}", "")
            item[part] = text
            problem = checks.check_line(text, limit)
            if problem:
                problems[f"addresses-{i}-{part}"] = problem
        country = form.get(f"addresses-{i}-country", "")
        if country and country not in countries:
            problems[f"addresses-{i}-country"] = (N_("Choose a country from the list."), {})
        item["country"] = country
        if not any(str(item[p]).strip() for p, *_rest in ADDRESS_PARTS) and not country:
            continue
        shown.append(item)
        items.append({k: (v.strip() if isinstance(v, str) else v) for k, v in item.items()})
    return shown, items


def describe(field: str, value: Any, language_names: Mapping[str, str]) -> list[str]:
    """A field's value as lines of text for the preview, in the current language."""
    from crm_portal.i18n import country_names, current_language

    if field == "do_not_contact":
        return [_("Yes") if value else _("No")]
    if field == "language":
        return [language_names.get(value, value)] if value else [_("(not given)")]
    if field in ("emails", "phones", "addresses"):
        if not value:
            return [_("(none)")]
        lines = []
        names = country_names(current_language())
        for item in value:
            if field == "emails":
                text = f"{item.get('address', '')} ({_(EMAIL_KINDS.get(item.get('kind', 'other'), 'Other'))})"
            elif field == "phones":
                number = item.get("number", "")
                if item.get("extension"):
                    number += " " + _("ext. %(extension)s", extension=item["extension"])
                text = f"{number} ({_(PHONE_KINDS.get(item.get('kind', 'other'), 'Other'))})"
            else:
                parts = [
                    item.get("street"),
                    item.get("extra"),
                    " ".join(p for p in (item.get("postal_code"), item.get("city")) if p),
                    item.get("region"),
                ]
                country = item.get("country")
                if country:
                    parts.append(names.get(country, country))
                text = ", ".join(p for p in parts if p)
            if item.get("primary") and len(value) > 1:
                text += " · " + _("main")
            lines.append(text)
        return lines
    return [str(value)] if value else [_("(empty)")]

"""The duplicates queue, the merge page and unmerge (imported by :mod:`crm_contacts.desk.views`: Flask).

Everything goes through ``crm.plugin("contacts")`` as the signed-in user:
``scan_duplicates`` and ``merge``/``unmerge`` need ``contacts.merge`` (on
both contacts for a merge), and a contact out of the user's scope is a 404.
"""

from __future__ import annotations

import re
from typing import Any

import flask
from flask import abort, g, redirect, request, url_for

from crm_contacts.merging import _SCALARS as MERGE_FIELDS
from crm_contacts.records import snapshot
from crm_core.errors import NotFoundError, PermissionDenied, ValidationError
from crm_core.i18n import N_, translated
from crm_core.i18n import gettext as _

__all__ = ["duplicates", "merge", "merges_of", "score", "unmerge"]

#: pairs per page of the queue
PAGE = 50
#: the labels of the fields with one value, which the merge page offers a choice for
FIELD_LABELS = {
    "display_name": N_("Name shown"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "organization_id": N_("Organization"),
    "status": N_("Status"),
    "region": N_("Region"),
    "country": N_("Country"),
    "owner": N_("Owner"),
    "language": N_("Language"),
    "external_id": N_("External id"),
    "notes": N_("Notes"),
}
#: fields the API's merge leaves as the survivor has them: the merged contact's value is not carried over
KEPT_LABELS = {
    "name_prefix": N_("Name prefix"),
    "middle_name": N_("Middle name"),
    "name_suffix": N_("Name suffix"),
    "nickname": N_("Nickname"),
    "title": N_("Job title"),
    "department": N_("Department"),
    "birthday": N_("Birthday"),
    "website": N_("Website"),
}
_SIMILAR = re.compile(r"^similar names \((\d+)%\)")


def _api() -> Any:
    return g.crm.plugin("contacts")


def _read(contact_id: int) -> Any:
    try:
        return _api().get(contact_id)
    except (NotFoundError, PermissionDenied):
        abort(404)


def score(reasons: tuple[str, ...]) -> int:
    """How sure the pair is, in percent: 100 for a shared e-mail, phone or the same name, else the names' similarity."""
    best = 0
    for reason in reasons:
        if reason.startswith(("same e-mail", "same phone", "same name")):
            return 100
        match = _SIMILAR.match(reason)
        if match:
            best = max(best, int(match.group(1)))
    return best


# -- the queue -------------------------------------------------------------------


def duplicates() -> Any:
    """The likely duplicate pairs of the user's scope, 50 a page, with their reasons and score."""
    try:
        number = max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        number = 1
    scan = _api().scan_duplicates(PAGE, offset=(number - 1) * PAGE)
    # the reasons in the user's language (they are crm_core.i18n.Messages; the score reads the English)
    pairs = [{"pair": p, "score": score(p.reasons), "reasons": [translated(r) for r in p.reasons]} for p in scan.pairs]
    pages = {}
    if number > 1:
        pages["previous"] = url_for("contacts.duplicates", page=number - 1)
    if scan.offset + len(scan.pairs) < scan.total:
        pages["next"] = url_for("contacts.duplicates", page=number + 1)
    return flask.render_template(
        "contacts/duplicates.html",
        pairs=pairs,
        scan=scan,
        pages=pages,
        first=scan.offset + 1 if scan.pairs else 0,
        last=scan.offset + len(scan.pairs),
    )


# -- the merge page --------------------------------------------------------------


def _pair_ids() -> tuple[int, int]:
    """The survivor's and the merged contact's ids from the query or the form; 404 when they are not two numbers."""
    values = request.form if request.method == "POST" else request.args
    survivor, merged = values.get("survivor", ""), values.get("merged", "")
    if not (survivor.isdigit() and merged.isdigit()) or survivor == merged:
        abort(404)
    return int(survivor), int(merged)


def _shown(name: str, value: Any, names: dict[int, str]) -> str:
    if value in (None, ""):
        return ""
    if name == "organization_id":
        return names.get(value, f"#{value}")
    if name == "status":
        from crm_contacts.desk.views import STATUS_LABELS

        return _(STATUS_LABELS[value]) if value in STATUS_LABELS else str(value)
    return str(value)


def _rows(survivor: Any, merged: Any) -> list[dict[str, Any]]:
    """Each field with one value, side by side, and whether the user chooses (both have a value, and they differ)."""
    mine, theirs = snapshot(survivor), snapshot(merged)
    organizations = [v for v in (mine["organization_id"], theirs["organization_id"]) if v]
    names: dict[int, str] = {}
    if organizations:
        names = {c.id: c.display_name for c in _api().cards(organizations)}
    rows = []
    for name in MERGE_FIELDS:
        a, b = mine[name], theirs[name]
        if a in (None, "") and b in (None, ""):
            continue
        if name == "organization_id" and b == survivor.id:
            b = None
        rows.append(
            {
                "name": name,
                "label": _(FIELD_LABELS[name]),
                "survivor": _shown(name, a, names),
                "merged": _shown(name, b, names),
                "choose": a not in (None, "") and b not in (None, "") and a != b,
                "lost": False,
            }
        )
    for name, label in KEPT_LABELS.items():
        a, b = mine[name], theirs[name]
        if b not in (None, "") and a != b:
            rows.append(
                {"name": name, "label": _(label), "survivor": _shown(name, a, names), "merged": _shown(name, b, names)}
                | {"choose": False, "lost": True}
            )
    return rows


def _together(survivor: Any, merged: Any) -> list[tuple[str, str, str]]:
    """What is united rather than chosen: e-mails, phones, addresses, tags, custom fields."""

    def listed(record: Any) -> dict[str, str]:
        return {
            "emails": ", ".join(e.address for e in record.emails),
            "phones": ", ".join(p.number for p in record.phones),
            "addresses": "; ".join(f"{a.street}, {a.postal_code} {a.city}".strip(", ") for a in record.addresses),
            "tags": ", ".join(record.tags),
            "custom": ", ".join(f"{k}: {v}" for k, v in sorted(record.custom.items())),
        }

    labels = {
        "emails": _("E-mails"),
        "phones": _("Phones"),
        "addresses": _("Addresses"),
        "tags": _("Tags"),
        "custom": _("Custom fields"),
    }
    a, b = listed(survivor), listed(merged)
    return [(labels[k], a[k], b[k]) for k in labels if a[k] or b[k]]


def merge() -> Any:
    """GET: both contacts side by side with a choice per field; POST: the confirmation, then (``confirm=1``) the merge."""
    survivor_id, merged_id = _pair_ids()
    if not g.crm.authz.can("contacts.merge"):
        raise PermissionDenied("contacts.merge: merging contacts needs this permission")
    survivor, merged = _read(survivor_id), _read(merged_id)
    rows = _rows(survivor, merged)
    chosen = {row["name"]: "survivor" for row in rows if row["choose"]}
    errors: dict[str, str] = {}
    problem = None
    values = {
        "survivor": survivor,
        "merged": merged,
        "rows": rows,
        "together": _together(survivor, merged),
        "swap": url_for("contacts.merge", survivor=merged.id, merged=survivor.id),
    }
    if request.method == "GET":
        return flask.render_template("contacts/merge.html", chosen=chosen, errors=errors, problem=problem, **values)
    for name in chosen:
        choice = request.form.get(f"field_{name}", "survivor")
        if choice not in ("survivor", "merged"):
            errors[name] = _("Choose the value of one of the two contacts.")
        else:
            chosen[name] = choice
    if errors:
        return flask.render_template(
            "contacts/merge.html", chosen=chosen, errors=errors, problem=problem, **values
        ), 422
    if request.form.get("confirm") != "1":
        return flask.render_template("contacts/merge_confirm.html", chosen=chosen, **values)
    rules = {name: "merged" for name, choice in chosen.items() if choice == "merged"}
    try:
        _api().merge(survivor.id, merged.id, rules)
    except ValidationError as exc:
        return flask.render_template(
            "contacts/merge.html", chosen=chosen, errors=errors, problem=str(exc), **values
        ), 422
    flask.flash(
        _(
            "%(merged)s was merged into %(survivor)s; undo it from this card.",
            merged=merged.display_name,
            survivor=survivor.display_name,
        ),
        "success",
    )
    return redirect(url_for("contacts.card", contact_id=survivor.id), 303)


# -- unmerge ---------------------------------------------------------------------


def merges_of(contact: Any) -> list[dict[str, Any]]:
    """The merges into ``contact`` that can be undone, with the merged contact's name (for the card)."""
    api = _api()
    made = [m for m in api.merges(contact.id) if m["survivor_id"] == contact.id and m["undone_at"] is None]
    if not made:
        return []
    records = api.records([m["merged_id"] for m in made])
    return [
        dict(m, name=records[m["merged_id"]].display_name if m["merged_id"] in records else f"#{m['merged_id']}")
        for m in made
    ]


def unmerge(contact_id: int) -> Any:
    """GET: the confirmation; POST: undo the latest merge of ``contact_id`` (the merged contact) into its survivor."""
    merged = _read(contact_id)
    if not g.crm.authz.can("contacts.merge"):
        raise PermissionDenied("contacts.merge: undoing a merge needs this permission")
    made = [m for m in _api().merges(merged.id) if m["merged_id"] == merged.id and m["undone_at"] is None]
    if not made:
        abort(404)
    survivor = _read(made[0]["survivor_id"])
    if request.method == "GET":
        return flask.render_template("contacts/unmerge.html", merged=merged, survivor=survivor)
    try:
        _api().unmerge(merged.id)
    except ValidationError as exc:
        flask.flash(str(exc), "error")
        return redirect(url_for("contacts.card", contact_id=survivor.id), 303)
    flask.flash(_("%(name)s is a contact of its own again.", name=merged.display_name), "success")
    return redirect(url_for("contacts.card", contact_id=merged.id), 303)

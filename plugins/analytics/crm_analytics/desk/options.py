"""A report page's pickers: which ones each report has, and reading them from the query string.

The report page is a GET form (its address can be bookmarked and shared):
range, period, currency and the report's own options. :func:`read` turns
the query into the arguments of ``AnalyticsAPI.run`` and, for each value
it cannot use, an error in the user's language keyed by the field, which
the page shows beside that field. What only the plugin can tell (a range
that ends before it starts, an option a report does not take) comes back
from the API as a ``ValidationError`` and is put beside the field it names
(:func:`field_of`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = ["FORECAST", "GRAINS", "Pickers", "field_of", "pickers_for", "read"]

GRAINS = ("week", "month", "quarter", "year", "all")
GRAIN_LABELS = {
    "week": N_("Week"),
    "month": N_("Month"),
    "quarter": N_("Quarter"),
    "year": N_("Year"),
    "all": N_("Whole range"),
}
SALES_DIMENSIONS = ("region", "owner", "product_line", "kind")
SALES_KINDS = ("rfp", "rfq", "appointment", "quote", "sale")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


@attrs.frozen
class Pickers:
    """The fields of one report's form: ``range`` (from, to), ``period``, and the report's options."""

    range: bool = True
    period: bool = True
    currency: bool = False
    #: grouping choices (checkboxes named ``by``) and those ticked when the form was never sent
    by: tuple[str, ...] = ()
    by_default: tuple[str, ...] = ()
    kinds: bool = False
    regions_owners: bool = False
    member: bool = False
    survey: bool = False


STANDARD: dict[str, Pickers] = {
    "closed-share": Pickers(currency=True, by=SALES_DIMENSIONS, kinds=True, regions_owners=True),
    "sales": Pickers(currency=True, by=SALES_DIMENSIONS, by_default=("region",), kinds=True, regions_owners=True),
    "pipeline": Pickers(period=False, currency=True),
    "surveys": Pickers(survey=True),
    "customers": Pickers(by=("region", "country"), by_default=("region",)),
    "staff": Pickers(member=True),
}
#: the forecast's own form (quarters ahead, quarters held out, currency) is drawn by its page
FORECAST = "forecast"


def pickers_for(name: str, has_period: bool) -> Pickers:
    """The pickers of report ``name``: a standard one's, or a custom one's (range and period, when it has a period)."""
    if name in STANDARD:
        return STANDARD[name]
    return Pickers(range=has_period, period=has_period)


def _texts(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def read(pickers: Pickers, query: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """``(form, arguments, errors)`` from the query: what to show in the fields, what to run, what to fix.

    ``query`` is ``request.args`` (a ``MultiDict``: ``getlist`` for the
    checkboxes). A form that was never sent (no ``run`` in the query) takes
    the report's defaults.
    """
    sent = "run" in query
    form: dict[str, Any] = {}
    args: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if pickers.range:
        for key in ("from", "to"):
            text = str(query.get(key, "")).strip()
            form[key] = text
            if text:
                day = _day(text)
                if day is None:
                    errors[key] = _("Write the date as YYYY-MM-DD, such as 2026-03-31.")
                else:
                    args["start" if key == "from" else "end"] = day
        if "start" in args and "end" in args and args["end"] < args["start"]:
            errors["to"] = _("The range ends before it starts: choose a day on or after %(day)s.", day=form["from"])
    if pickers.period:
        grain = str(query.get("period", "")).strip()
        form["period"] = grain
        if grain:
            if grain not in GRAINS:
                errors["period"] = _("Choose a period from the menu.")
            else:
                args["period"] = grain
    if pickers.currency:
        code = str(query.get("currency", "")).strip()
        form["currency"] = code.upper()
        if code:
            if not _CURRENCY.match(code):
                errors["currency"] = _("Write a currency as its three-letter ISO code, such as EUR, or leave it empty.")
            else:
                args["currency"] = code.upper()
    if pickers.by:
        ticked = list(query.getlist("by")) if sent else list(pickers.by_default)
        form["by"] = ticked
        bad = [v for v in ticked if v not in pickers.by]
        if bad:
            errors["by"] = _("Choose the groupings from the list.")
        else:
            args["by"] = ticked
    if pickers.kinds:
        kinds = list(query.getlist("kind"))
        form["kind"] = kinds
        if any(k not in SALES_KINDS for k in kinds):
            errors["kind"] = _("Choose the kinds from the list.")
        elif kinds:
            args["kind"] = kinds
    if pickers.regions_owners:
        for key in ("region", "owner"):
            text = str(query.get(key, "")).strip()
            form[key] = text
            values = _texts(text)
            if any(len(v) > 200 for v in values):
                errors[key] = _("Keep each name to 200 characters.")
            elif values:
                args[key] = values
    if pickers.member:
        text = str(query.get("member", "")).strip()
        form["member"] = text
        values = _texts(text)
        if any(len(v) > 200 for v in values):
            errors["member"] = _("Keep each name to 200 characters.")
        elif values:
            args["member"] = values
    if pickers.survey:
        form["by_region"] = (query.get("by_region") == "1") if sent else True
        args["by_region"] = form["by_region"]
        text = str(query.get("survey", "")).strip()
        form["survey"] = text
        if text:
            if not text.isdigit() or int(text) < 1 or int(text) > 2**63 - 1:
                errors["survey"] = _("Write the survey's number (as in the surveys' list), or leave it empty.")
            else:
                args["survey"] = int(text)
    return form, args, errors


def read_forecast(query: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The forecast's form: quarters ahead (1-12), quarters held out (1-8), currency."""
    form: dict[str, Any] = {}
    args: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, low, high in (("quarters", 1, 12), ("holdout", 1, 8)):
        text = str(query.get(key, "")).strip()
        form[key] = text
        if text:
            if not text.isdigit() or not low <= int(text) <= high:
                errors[key] = _("Write a whole number from %(low)s to %(high)s.", low=low, high=high)
            else:
                args[key] = int(text)
    code = str(query.get("currency", "")).strip()
    form["currency"] = code.upper()
    if code:
        if not _CURRENCY.match(code):
            errors["currency"] = _("Write a currency as its three-letter ISO code, such as EUR, or leave it empty.")
        else:
            args["currency"] = code.upper()
    return form, args, errors


def field_of(message: str, fields: Sequence[str]) -> str:
    """The form field a refusal from the plugin is about, among ``fields`` (the first one when it names none)."""
    text = message.lower()
    for word, field in (
        ("--from", "from"),
        ("--to", "to"),
        ("period", "period"),
        ("currency", "currency"),
        ("grouping", "by"),
        ("kind", "kind"),
        ("region", "region"),
        ("owner", "owner"),
        ("staff member", "member"),
        ("survey", "survey"),
        ("quarters", "quarters"),
        ("holdout", "holdout"),
    ):
        if word in text and field in fields:
            return field
    return fields[0] if fields else "form"


def query_of(form: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The form's values as query pairs (for the download and chart links of the same report)."""
    pairs: list[tuple[str, str]] = [("run", "1")]
    for key, value in form.items():
        if isinstance(value, bool):
            if value:
                pairs.append((key, "1"))
        elif isinstance(value, list):
            pairs.extend((key, v) for v in value)
        elif value:
            pairs.append((key, str(value)))
    return pairs

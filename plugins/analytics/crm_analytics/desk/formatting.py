"""A report's cells as the signed-in user reads them: numbers, money, percentages and dates in their locale (Babel).

A report's rows keep Python values (``Decimal`` amounts, ``int`` counts,
``float`` shares in percent, dates); the pages show them through
:func:`cell`, and the CSV and charts are made from the values themselves.
Column headings of the standard reports are translated; a custom report's
columns are the names its definition gives them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from crm_core.i18n import N_, current_language
from crm_core.i18n import gettext as _

__all__ = ["HEADINGS", "PERCENT_COLUMNS", "VALUE_LABELS", "cell", "heading", "say", "table", "value_of"]

#: the columns of the standard reports (and the forecast's tables), as their headings read
HEADINGS: dict[str, str] = {
    "period": N_("Period"),
    "quarter": N_("Quarter"),
    "region": N_("Region"),
    "country": N_("Country"),
    "owner": N_("Owner"),
    "product_line": N_("Product line"),
    "kind": N_("Kind"),
    "currency": N_("Currency"),
    "won": N_("Won"),
    "lost": N_("Lost"),
    "closed": N_("Closed"),
    "won_share": N_("Won share"),
    "won_amount": N_("Won amount"),
    "lost_amount": N_("Lost amount"),
    "won_amount_share": N_("Won share of amount"),
    "open": N_("Open"),
    "open_amount": N_("Open amount"),
    "sales": N_("Sales"),
    "amount": N_("Amount"),
    "average": N_("Average"),
    "share_of_amount": N_("Share of amount"),
    "stage": N_("Stage"),
    "reached": N_("Reached"),
    "moved_on": N_("Moved on"),
    "conversion": N_("Conversion"),
    "stays": N_("Stays"),
    "avg_days": N_("Average days"),
    "invited": N_("Invited"),
    "answered": N_("Answered"),
    "response_rate": N_("Response rate"),
    "responses": N_("Responses"),
    "nps_answers": N_("NPS answers"),
    "nps": N_("NPS"),
    "csat_answers": N_("CSAT answers"),
    "csat": N_("CSAT"),
    "customers": N_("Customers"),
    "prospects": N_("Prospects"),
    "former": N_("Former customers"),
    "contacts": N_("Contacts"),
    "gained": N_("Gained"),
    "net": N_("Net"),
    "staff": N_("Staff member"),
    "calls": N_("Calls"),
    "meetings": N_("Meetings"),
    "notes": N_("Notes"),
    "emails": N_("E-mails"),
    "other": N_("Other"),
    "tasks_completed": N_("Tasks completed"),
    "total": N_("Total"),
    "pipeline": N_("Pipeline"),
    "weighted_pipeline": N_("Weighted pipeline"),
    "history_forecast": N_("Forecast from history"),
    "method": N_("Method"),
    "quarters": N_("Quarters"),
    "from": N_("From"),
    "to": N_("To"),
    "mape": N_("Error (MAPE)"),
    "alpha": N_("alpha"),
    "beta": N_("beta"),
    "gamma": N_("gamma"),
}
#: the codes some columns hold (the default pipeline's stages, the kinds of sales records, the forecast's
#: methods), as the pages name them; a code not listed (a configured stage) is shown as it is written
VALUE_LABELS: dict[str, dict[str, str]] = {
    "stage": {
        "new": N_("New"),
        "qualified": N_("Qualified"),
        "proposal": N_("Proposal"),
        "negotiation": N_("Negotiation"),
        "won": N_("Won"),
        "lost": N_("Lost"),
    },
    "kind": {
        "rfp": N_("Request for proposal"),
        "rfq": N_("Request for quotation"),
        "appointment": N_("Appointment"),
        "quote": N_("Quote"),
        "sale": N_("Sale"),
    },
    "method": {
        "holt-winters": N_("Holt-Winters"),
        "holt": N_("Holt's trend"),
        "level": N_("Exponential smoothing"),
        "none": N_("Pipeline only"),
    },
}
#: columns holding a share in percent (0-100): shown with the locale's percent sign
PERCENT_COLUMNS = frozenset(
    {"won_share", "won_amount_share", "share_of_amount", "conversion", "response_rate", "csat", "mape"}
)
#: the pipeline's columns per currency: amount_EUR, weighted_EUR
_PER_CURRENCY = {"amount": N_("Amount (%(currency)s)"), "weighted": N_("Weighted (%(currency)s)")}


def heading(column: str, standard: bool = True) -> str:
    """The heading of ``column`` in the user's language (a custom report's own names stay as they are)."""
    if not standard:
        return column
    if column in HEADINGS:
        return _(HEADINGS[column])
    prefix, _sep, code = column.rpartition("_")
    if prefix in _PER_CURRENCY and len(code) == 3 and code.isupper():
        return _(_PER_CURRENCY[prefix], currency=code)
    return column


def _currency_of(column: str, row: Mapping[str, Any]) -> str | None:
    prefix, _sep, code = column.rpartition("_")
    if prefix in _PER_CURRENCY and len(code) == 3 and code.isupper():
        return code
    found = row.get("currency")
    return found if isinstance(found, str) and len(found) == 3 else None


@functools.lru_cache(maxsize=32)
def _numbers(language: str) -> tuple[Any, Any, Any, Any]:
    """The locale and its number, money and percent patterns, parsed once per language.

    A page formats thousands of cells: Babel's ``format_*`` functions parse
    the locale on every call, which was most of a large report page's time.
    """
    from babel import Locale
    from babel.numbers import parse_pattern

    locale = Locale.parse(language)
    return locale, locale.decimal_formats[None], locale.currency_formats["standard"], parse_pattern("#,##0.0%")


def cell(column: str, value: Any, row: Mapping[str, Any], tz: dt.tzinfo | None = None) -> str:
    """``value`` of ``column`` as text in the user's locale: ``1.234,56 €``, ``45,2 %``, ``3 dic 2026``."""
    from babel.dates import format_date, format_datetime

    locale = current_language()
    if value is None:
        return ""
    if isinstance(value, str) and value in VALUE_LABELS.get(column, {}):
        return value_of(column, value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        return str(format_datetime(value, format="medium", tzinfo=tz, locale=locale))
    if isinstance(value, dt.date):
        return str(format_date(value, format="medium", locale=locale))
    if isinstance(value, (int, float, decimal.Decimal)):
        parsed, number, money, percent = _numbers(locale)
        if column in PERCENT_COLUMNS:
            return str(percent.apply(float(value) / 100.0, parsed))
        if isinstance(value, decimal.Decimal):
            code = _currency_of(column, row)
            if code is not None:
                return str(money.apply(value, parsed, currency=code, currency_digits=True))
        return str(number.apply(value, parsed))
    return str(value)


def value_of(column: str, value: str) -> str:
    """A code a column holds (a stage, a kind of record, a forecast's method) as the page names it; others as written."""
    named = VALUE_LABELS.get(column, {}).get(value)
    return _(named) if named is not None else value


def say(text: Any) -> str:
    """A report's note or empty message in the user's language: a :class:`~crm_analytics.result.Note` is
    translated, its dates and numbers in the user's locale; any other text is shown as it is."""
    from babel.dates import format_date
    from babel.numbers import format_decimal

    from crm_analytics.result import Note

    if not isinstance(text, Note):
        return str(text)
    locale = current_language()

    def value(item: Any) -> str:
        if isinstance(item, dt.date):
            return str(format_date(item, format="medium", locale=locale))
        return str(format_decimal(item, locale=locale))

    return text.say(_, value)


def table(
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    standard: bool = True,
    tz: dt.tzinfo | None = None,
) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """The ``(key, heading)`` pairs and the formatted rows that ``ui.table`` draws."""
    heads = [(c, heading(c, standard)) for c in columns]
    body = [{c: cell(c, row.get(c), row, tz) for c in columns} for row in rows]
    return heads, body

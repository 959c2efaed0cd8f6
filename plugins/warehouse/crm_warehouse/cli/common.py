"""What the warehouse's commands share beyond ``crm_core.cli.helpers``: dates typed on the command line, one record shown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from crm_core.errors import ValidationError
from crm_core.output import render

__all__ = ["parse_date", "parse_instant", "render_record"]


def parse_date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{option} {text!r} is not a date; write YYYY-MM-DD") from None


def parse_instant(text: str | None, option: str) -> dt.date | dt.datetime | None:
    """A date (YYYY-MM-DD) or an aware ISO datetime."""
    if text is None:
        return None
    text = text.strip()
    if "T" in text or " " in text:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                f"{option} {text!r} is not a date or datetime; write YYYY-MM-DD or 2026-01-31T17:00+01:00"
            ) from None
        if value.tzinfo is None:
            raise ValidationError(f"{option} {text!r}: give a time zone (e.g. {text}+00:00) or a plain date YYYY-MM-DD")
        return value
    return parse_date(text, option)


def render_record(record: Mapping[str, Any], fmt: str) -> str:
    """One record: a field/value table, or the record itself as JSON or one CSV row."""
    if fmt == "table":
        return render([{"field": k, "value": v} for k, v in record.items()], ["field", "value"], "table")
    return render([dict(record)], list(record), fmt)

"""What the warehouse's commands share: the acting staff member, dates, JSON-ready values."""

from __future__ import annotations

import datetime as dt
import decimal
import getpass
import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import click

from crm_core.errors import ValidationError
from crm_core.output import render

__all__ = ["by_option", "parse_date", "parse_instant", "plain", "render_record", "warehouse_api"]


def default_actor() -> str:
    """Who is at the keyboard: ``$CRM_USER``, else the login name."""
    try:
        return os.environ.get("CRM_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "staff"


def by_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--by",
        "actor",
        default=None,
        metavar="STAFF",
        help="The staff member doing it [default: $CRM_USER or the login name].",
    )(command)


def warehouse_api(state: Any) -> Any:
    return state.crm().plugin("warehouse")


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


def plain(value: Any) -> Any:
    """JSON-ready copies of records (attrs classes, datetimes, decimals)."""
    if attrs.has(type(value)):
        return plain(attrs.asdict(value, recurse=False))
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def render_record(record: Mapping[str, Any], fmt: str) -> str:
    """One record: a field/value table, or the record itself as JSON or one CSV row."""
    if fmt == "table":
        return render([{"field": k, "value": v} for k, v in record.items()], ["field", "value"], "table")
    return render([dict(record)], list(record), fmt)

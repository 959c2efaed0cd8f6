"""Checks of values given by users (API arguments, CLI options), each failing with a ValidationError that names the value."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, overload

from crm_core.errors import ValidationError
from crm_core.ids import MAX_ID

__all__ = ["check_date", "check_id", "check_text"]


@overload
def check_text(value: Any, what: str, max_len: int, required: Literal[True]) -> str: ...


@overload
def check_text(value: Any, what: str, max_len: int, required: bool = False) -> str | None: ...


# required=True never returns None (it raises instead): the overloads say so to callers
def check_text(value: Any, what: str, max_len: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise ValidationError(f"{what} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, not {type(value).__name__}")
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{what} is required and cannot be empty")
    if len(value) > max_len:
        raise ValidationError(f"{what} is {len(value)} characters long; the limit is {max_len}")
    return value or None


def check_date(value: Any, what: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        raise ValidationError(f"{what} takes a date (2026-03-31), not a date and time")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{what} {value!r} is not a date; give it as 2026-03-31") from None


def check_id(value: Any, what: str) -> int:
    """A positive whole number (ids typed on the command line arrive as text)."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or number <= 0 or number > MAX_ID:
        raise ValidationError(f"{what} {value!r} is not an id (a whole number from 1 to {MAX_ID})")
    return number

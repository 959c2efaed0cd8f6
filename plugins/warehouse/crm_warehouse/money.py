"""Amounts and ISO 4217 currencies, checked at the boundary."""

from __future__ import annotations

import decimal
from typing import Any

from crm_core.errors import ValidationError

__all__ = ["MAX_AMOUNT", "as_amount", "check_amount", "check_currency", "currency_problem", "minor_units"]

#: amounts are stored as DECIMAL(18, 4)
MAX_AMOUNT = decimal.Decimal("99999999999999")


def minor_units(code: str) -> int | None:
    """The number of decimal places of an ISO 4217 currency, ``None`` if it has none (XAU, XXX)."""
    from iso4217 import Currency

    return Currency(code).exponent


def currency_problem(code: Any) -> str | None:
    """Why ``code`` is not a usable currency, or ``None`` when it is."""
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha() or not code.isupper():
        return f"{code!r} is not an ISO 4217 currency code (three capital letters such as EUR, USD, JPY)"
    from iso4217 import Currency

    try:
        currency = Currency(code)
    except ValueError:
        return f"{code!r} is not an ISO 4217 currency code (three capital letters such as EUR, USD, JPY)"
    if currency.exponent is None:
        return f"{code} ({currency.currency_name}) is not a money currency; use one such as EUR, USD, JPY"
    return None


def check_currency(code: Any) -> str:
    """``code`` upper-cased if it is a usable ISO 4217 currency; else :class:`ValidationError`."""
    value = code.strip().upper() if isinstance(code, str) else code
    problem = currency_problem(value)
    if problem:
        raise ValidationError(f"currency {problem}")
    return value


def check_amount(value: Any, currency: str, what: str = "amount") -> decimal.Decimal:
    """``value`` as a Decimal: finite, not negative, within range, with no more decimals than ``currency`` has."""
    if isinstance(value, bool) or value is None:
        raise ValidationError(f"{what} {value!r} is not a number; give it as 1234.50")
    if isinstance(value, float):
        value = repr(value)  # 0.1 means 0.1, not its binary approximation
    try:
        amount = decimal.Decimal(str(value).strip()) if not isinstance(value, decimal.Decimal) else value
    except decimal.InvalidOperation:
        raise ValidationError(f"{what} {value!r} is not a number; give it as 1234.50") from None
    if not amount.is_finite():
        raise ValidationError(f"{what} {value!r} is not a finite number; give it as 1234.50")
    if amount < 0:
        raise ValidationError(f"{what} {amount} is negative; amounts of sales records are 0 or more")
    if amount > MAX_AMOUNT:
        raise ValidationError(f"{what} {amount} is too large; the largest amount is {MAX_AMOUNT}")
    places = minor_units(currency) or 0
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValidationError(
            f"{what} {amount} has more decimal places than {currency} allows ({places}); round it first"
        )
    return amount.quantize(decimal.Decimal(1).scaleb(-places)) if places else amount.quantize(decimal.Decimal(1))


def as_amount(value: Any, currency: str) -> decimal.Decimal:
    """A stored amount as a Decimal with the currency's decimals (SQLite returns 1200.5 for 1200.50)."""
    try:
        places = minor_units(currency) or 0
    except ValueError:  # a currency code retired since the amount was stored
        places = 2
    return decimal.Decimal(str(value)).quantize(decimal.Decimal(1).scaleb(-places))

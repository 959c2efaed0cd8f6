"""Record ids as every backend stores them: whole numbers from 1 to 2**63 - 1.

Ids are signed 64-bit integers (``BIGINT``) on SQLite, PostgreSQL and
MariaDB alike. A larger Python int cannot even be bound as a query parameter
(SQLite raises ``OverflowError``, PostgreSQL "integer out of range"), so an id
typed by a user or passed by an embedding app is checked at the edge: the
CLI refuses it as a bad parameter, a lookup answers "not found" (no record
can have it), a filter names the input.
"""

from __future__ import annotations

from typing import Any

from crm_core.errors import ValidationError

__all__ = ["MAX_ID", "check_id", "cli_type", "is_id"]

#: the largest id a BIGINT column holds
MAX_ID = 2**63 - 1


def is_id(value: Any) -> bool:
    """Whether ``value`` is an int that can be a record id (1 to :data:`MAX_ID`; ``bool`` is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def check_id(value: Any, what: str = "id") -> int:
    """``value`` as an id (an int, or a text of digits); :class:`ValidationError` naming ``what`` otherwise."""
    number = value
    if isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if not is_id(number):
        shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "…"
        raise ValidationError(f"{what} {shown!r} is not an id: ids are whole numbers from 1 to {MAX_ID}")
    return int(number)


def cli_type() -> Any:
    """The click type of an id argument or option (``type=cli_type()``): 1 to :data:`MAX_ID`.

    Anything else is a usage error naming the parameter and the range.
    """
    import click

    return click.IntRange(1, MAX_ID)

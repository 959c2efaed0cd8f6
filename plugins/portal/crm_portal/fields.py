"""Checks of the values people type into the portal's forms.

Each check returns a problem as ``(message, values)``: an English message
marked for translation and the values it names, translated where it is
shown. Limits follow the columns the values end up in.
"""

from __future__ import annotations

import re
from typing import Any

from crm_portal.i18n import N_

__all__ = ["MAX_EMAIL", "MAX_NAME", "MAX_TEXT", "Problem", "check_email", "check_line", "check_text"]

Problem = tuple[str, dict[str, Any]]

MAX_NAME = 150
MAX_EMAIL = 254
MAX_TEXT = 2000
_LINE_BREAK = re.compile(r"[\r\n\x00\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"[^@\s<>,;:\"()\[\]\\]{1,64}@[^@\s<>,;:\"()\[\]\\]{1,252}\Z")


def check_line(value: str, max_length: int, *, required: bool = False) -> Problem | None:
    """One line of text: no line break or control character, at most ``max_length`` characters."""
    if not value.strip():
        return (N_("Please fill in this field."), {}) if required else None
    if _LINE_BREAK.search(value) or _CONTROL.search(value):
        return N_("Write this on one line, without line breaks."), {}
    if len(value) > max_length:
        return N_("Write at most %(max)s characters (this has %(length)s)."), {"max": max_length, "length": len(value)}
    return None


def check_text(value: str, max_length: int) -> Problem | None:
    """Free text: line breaks allowed, at most ``max_length`` characters."""
    if _CONTROL.search(value):
        return N_("This text holds characters that cannot be stored; remove them."), {}
    if len(value) > max_length:
        return N_("Write at most %(max)s characters (this has %(length)s)."), {"max": max_length, "length": len(value)}
    return None


def check_email(value: str, *, required: bool = True) -> Problem | None:
    """An e-mail address as a person types it (no name, no line break)."""
    problem = check_line(value, MAX_EMAIL, required=required)
    if problem is not None or not value.strip():
        return problem
    from crm_core.errors import ValidationError
    from crm_core.mail.address import check_address_syntax

    text = value.strip()
    try:
        if not _EMAIL.match(text):
            raise ValidationError("not an address")
        check_address_syntax(text, "the e-mail address")
    except ValidationError:
        return N_("Enter an e-mail address such as name@example.com."), {}
    return None

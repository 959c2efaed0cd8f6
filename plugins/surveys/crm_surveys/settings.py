"""``[plugins.surveys]``: the plugin's settings, validated by the kernel with cattrs."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["LetterSettings", "SurveySettings"]


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ValueError(f"must be greater than 0, not {value!r}")


@attrs.frozen
class LetterSettings:
    """``[plugins.surveys.letters]``: the paper letters."""

    #: ``A4`` or ``letter``
    page_size: str = attrs.field(default="A4")
    #: the address window of the envelope: its left edge and top edge, in mm
    #: from the page's top-left corner (DIN 5008 form B: 20 and 45)
    address_left_mm: float = attrs.field(default=20.0, validator=_positive)
    address_top_mm: float = attrs.field(default=45.0, validator=_positive)
    #: the small return-address line printed above the recipient's address
    return_address: str = ""
    #: a TrueType (.ttf) font for scripts the built-in Helvetica lacks
    #: (Helvetica covers Western European languages); empty: Helvetica
    font_file: str = ""

    @page_size.validator
    def _check_page_size(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value not in ("A4", "letter"):
            raise ValueError(f"must be 'A4' or 'letter', not {value!r}")


@attrs.frozen
class SurveySettings:
    """``[plugins.surveys]``."""

    #: the HMAC key that signs answer links and paper codes; when empty, a
    #: random one is made and kept in the database on first use
    secret: str = ""
    #: how long an answer link works, in days from the e-mail
    token_ttl_days: int = attrs.field(default=30, validator=_positive)
    #: the address of the web form; a recipient's link is ``<base_url>/<token>``
    base_url: str = attrs.field(default="http://localhost:8000/surveys")
    #: default days before the one reminder to non-respondents (0: none);
    #: a survey's ``[reminder] after_days`` overrides it
    reminder_after_days: int = attrs.field(default=7)
    letters: LetterSettings = attrs.field(factory=LetterSettings)

    @base_url.validator
    def _check_base_url(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
            raise ValueError(f"must be an http:// or https:// address without spaces, not {value!r}")

    @reminder_after_days.validator
    def _check_reminder(self, attribute: attrs.Attribute[Any], value: int) -> None:
        if value < 0:
            raise ValueError(f"must be 0 (no reminder) or more days, not {value!r}")

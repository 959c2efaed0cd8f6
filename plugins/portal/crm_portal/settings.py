"""``[plugins.portal]``: the portal's settings, validated by the kernel with cattrs.

Paths (``logo``, ``translations_dir``, ``templates_dir``) are relative to the
configuration file's folder. Whether a language has a catalog, and whether
the files exist, is checked when the app starts (``crm_startup``).
"""

from __future__ import annotations

import re
from typing import Any

import attrs

__all__ = ["LimitSettings", "PortalSettings", "SignupForm", "parse_limit"]

_LIMIT = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*(seconds?|s|minutes?|min|m|hours?|h|days?|d)\s*\Z")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})\Z")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?\Z")
_FORM_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}\Z")


def parse_limit(text: str) -> tuple[int, int]:
    """``"5/hour"`` → ``(5, 3600)``; ``"30/10min"`` → ``(30, 600)``. Raises ValueError."""
    match = _LIMIT.match(text or "")
    if match is None:
        raise ValueError(f'{text!r} is not a rate; write it like "5/hour", "3/day" or "30/10min"')
    count, times, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    seconds = times * _UNIT_SECONDS["m" if unit.startswith("min") else unit[0]]
    if count < 1 or seconds < 1:
        raise ValueError(f"{text!r}: the count and the period must be at least 1")
    return count, seconds


def _limit(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    parse_limit(value)


def _texts(instance: Any, attribute: attrs.Attribute[dict[str, str]], value: dict[str, str]) -> None:
    if not value:
        raise ValueError('give the text in at least one language, as a table by language: { en = "...", es = "..." }')
    for language, text in value.items():
        if not _LANGUAGE.match(language):
            raise ValueError(f"{language!r} is not a language code (en, es, pt_BR)")
        if not str(text).strip():
            raise ValueError(f"the {language!r} text is empty")


def _color(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not _COLOR.match(value):
        raise ValueError(f"{value!r} is not a colour; write it as #rgb or #rrggbb (#1d4f91)")


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"must be at least 1, not {value!r}")


def _not_negative(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"must be 0 or more, not {value!r}")


@attrs.frozen
class LimitSettings:
    """``[plugins.portal.limits]``: how many POSTs a form takes per client address (and e-mail), as "count/period"."""

    signup: str = attrs.field(default="5/hour", validator=_limit)
    signup_email: str = attrs.field(default="3/day", validator=_limit)
    update: str = attrs.field(default="20/hour", validator=_limit)
    survey: str = attrs.field(default="30/hour", validator=_limit)
    unsubscribe: str = attrs.field(default="20/hour", validator=_limit)
    pages: str = attrs.field(default="60/hour", validator=_limit)


@attrs.frozen
class SignupForm:
    """One ``[[plugins.portal.signup_forms]]``: a public sign-up form."""

    #: its address: /signup/<name>
    name: str = attrs.field()
    #: the heading, by language
    title: dict[str, str] = attrs.field(validator=_texts)
    #: what the person agrees to, by language; recorded word for word with the consent
    consent: dict[str, str] = attrs.field(validator=_texts)
    #: the mailing lists a confirmed sign-up joins
    lists: tuple[str, ...] = ()
    #: a paragraph under the heading, by language
    introduction: dict[str, str] = attrs.field(factory=dict)
    #: ask for the first and last name (optional fields)
    ask_name: bool = True

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not _FORM_NAME.match(value):
            raise ValueError(
                f"{value!r}: a form name is 1 to 40 lower-case letters, digits and -, as it appears in /signup/<name>"
            )


@attrs.frozen
class PortalSettings:
    """``[plugins.portal]``."""

    #: signs sessions, CSRF tokens, unsubscribe and confirmation links; made and kept in the database when empty
    secret: str = ""
    #: the portal's public address, for the links in e-mails (never taken from a request's Host header)
    base_url: str = attrs.field(default="http://localhost:8000")
    site_name: str = "CRM"
    #: an image's https:// address, or an image file (relative to the configuration file) that the portal serves
    logo: str = ""
    primary_color: str = attrs.field(default="#1d4f91", validator=_color)
    background_color: str = attrs.field(default="#f6f7f9", validator=_color)
    text_color: str = attrs.field(default="#1b1f24", validator=_color)
    default_language: str = attrs.field(default="en")
    languages: tuple[str, ...] = attrs.field(default=("en", "es"))
    #: a folder of extra catalogs: <lang>/LC_MESSAGES/messages.mo
    translations_dir: str = ""
    #: a folder of templates that replace the portal's own (same names)
    templates_dir: str = ""
    #: a link to the privacy notice, shown in every page's footer and on sign-up forms
    privacy_url: str = ""
    #: how many reverse proxies in front set X-Forwarded-For/-Proto (0: none, use the connection's address)
    trusted_proxies: int = attrs.field(default=0, validator=_not_negative)
    #: Strict-Transport-Security max-age on HTTPS requests (0: no header)
    hsts_max_age: int = attrs.field(default=31536000, validator=_not_negative)
    #: how long a sign-up's confirmation link works; unconfirmed sign-ups are deleted after it
    signup_ttl_hours: int = attrs.field(default=72, validator=_positive)
    signup_forms: tuple[SignupForm, ...] = attrs.field(default=())
    limits: LimitSettings = attrs.field(factory=LimitSettings)

    @base_url.validator
    def _check_base_url(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not re.match(r"https?://[^/\s]+(/\S*)?\Z", value):
            raise ValueError(f"{value!r} is not an http(s) address; write it like https://crm.example.com/portal")

    @languages.validator
    def _check_languages(self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError("offer at least one language")
        for language in value:
            if not _LANGUAGE.match(language):
                raise ValueError(f"{language!r} is not a language code such as en, es or pt_BR")

    @default_language.validator
    def _check_default(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in self.languages:
            raise ValueError(
                f"{value!r} is not one of languages ({', '.join(self.languages)}); add it there or choose one of them"
            )

    @signup_forms.validator
    def _check_forms(self, attribute: attrs.Attribute[tuple[SignupForm, ...]], value: tuple[SignupForm, ...]) -> None:
        seen: set[str] = set()
        for form in value:
            if form.name in seen:
                raise ValueError(f"two sign-up forms are named {form.name!r}; give each its own name")
            seen.add(form.name)

    @property
    def root_url(self) -> str:
        return self.base_url.rstrip("/")

    def form(self, name: str) -> SignupForm | None:
        return next((f for f in self.signup_forms if f.name == name), None)

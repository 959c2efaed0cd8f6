"""``[plugins.desk]``: the desk's settings, validated by the kernel with cattrs."""

from __future__ import annotations

import re
from typing import Any

import attrs

__all__ = ["DeskSettings"]

_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?\Z")
#: the languages the desk ships catalogs for
SHIPPED_LANGUAGES = ("en", "es")


def _not_negative(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"must be 0 or more, not {value!r}")


def _positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"must be at least 1, not {value!r}")


@attrs.frozen
class DeskSettings:
    """``[plugins.desk]``."""

    #: the desk's public address, for the links in e-mails (never taken from a request's Host header)
    base_url: str = attrs.field(default="http://localhost:8200")
    #: the name shown at the top of the navigation and in e-mails
    site_name: str = "CRM"
    default_language: str = attrs.field(default="en")
    languages: tuple[str, ...] = attrs.field(default=SHIPPED_LANGUAGES)
    #: how long a forgotten-password link works
    reset_link_minutes: int = attrs.field(default=60, validator=_positive)
    #: how many reverse proxies in front set X-Forwarded-For/-Proto (0: none, use the connection's address)
    trusted_proxies: int = attrs.field(default=0, validator=_not_negative)
    #: Strict-Transport-Security max-age on HTTPS requests (0: no header)
    hsts_max_age: int = attrs.field(default=31536000, validator=_not_negative)

    @base_url.validator
    def _check_base_url(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not re.match(r"https?://[^/\s]+(/\S*)?\Z", value):
            raise ValueError(f"{value!r} is not an http(s) address; write it like https://crm.example.com/desk")

    @languages.validator
    def _check_languages(self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError("offer at least one language")
        for language in value:
            if not _LANGUAGE.match(language):
                raise ValueError(f"{language!r} is not a language code such as en, es or pt_BR")
            if language not in SHIPPED_LANGUAGES:
                raise ValueError(f"{language!r} has no catalog: the desk ships {', '.join(SHIPPED_LANGUAGES)}")

    @default_language.validator
    def _check_default(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in self.languages:
            raise ValueError(
                f"{value!r} is not one of languages ({', '.join(self.languages)}); add it there or choose one of them"
            )

    @property
    def root_url(self) -> str:
        """``base_url`` without a trailing slash."""
        return self.base_url.rstrip("/")

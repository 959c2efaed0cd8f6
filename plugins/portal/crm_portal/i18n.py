"""Languages: the gettext catalogs, choosing a language, and formatting per language.

The portal's texts are written in English in the code and templates and
translated through gettext catalogs (``translations/<lang>/LC_MESSAGES/
messages.mo``, compiled from the ``.po`` files and committed); a folder of
extra catalogs (``plugins.portal.translations_dir``) adds languages or
overrides the shipped texts. The language of the current request (or
e-mail) lives in a context variable, so one Jinja2 environment serves every
thread and language at once. The generic part is the kernel's
(:mod:`crm_core.i18n`), shared with the desk; this module adds the
portal's catalogs, country names and formats.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crm_core import i18n as _kernel
from crm_core.i18n import (
    DOMAIN,
    N_,
    SOURCE_LANGUAGE,
    current_language,
    gettext,
    install_jinja,
    language_names,
    match_language,
    ngettext,
    reset_current,
    set_current,
)

__all__ = [
    "DOMAIN",
    "Catalogs",
    "choice_options",
    "N_",
    "SHIPPED",
    "current_language",
    "gettext",
    "install_jinja",
    "language_names",
    "match_language",
    "ngettext",
    "reset_current",
    "set_current",
]

#: the folder of the shipped catalogs
SHIPPED = Path(__file__).parent / "translations"


class Catalogs(_kernel.Catalogs):
    """The portal's translations of the configured languages (the extra folder first), loaded once per app."""

    def __init__(self, languages: Sequence[str], default: str, extra_dir: Path | None = None) -> None:
        super().__init__(languages, default, [extra_dir, SHIPPED])

    @staticmethod
    def missing(languages: Sequence[str], extra_dir: Path | None = None) -> list[str]:
        """The languages without a catalog, shipped or extra (English needs none)."""
        return _kernel.Catalogs.missing_in(languages, [extra_dir, SHIPPED])


@functools.lru_cache(maxsize=64)
def country_names(language: str) -> dict[str, str]:
    """ISO 3166-1 alpha-2 codes to country names in ``language``, sorted by name (cached: do not change it)."""
    from babel import Locale, UnknownLocaleError

    try:
        territories: Mapping[str, str] = Locale.parse(language).territories
    except (ValueError, UnknownLocaleError):
        territories = Locale.parse(SOURCE_LANGUAGE).territories
    names = {
        code: name
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code not in ("ZZ", "EU", "EZ", "UN", "QO", "XA", "XB")
    }
    return dict(sorted(names.items(), key=lambda item: item[1].casefold()))


@functools.lru_cache(maxsize=64)
def _country_options(language: str, blank: str) -> str:
    from markupsafe import escape

    options = "".join(
        f'<option value="{code}">{escape(name)}</option>' for code, name in country_names(language).items()
    )
    return f'<option value="">{escape(blank)}</option>{options}'


def country_options(selected: str | None) -> Any:
    """The ``<option>`` list of a country menu in the current language, ``selected`` chosen (markup, built once per language)."""
    from markupsafe import Markup

    html = _country_options(current_language(), gettext("(choose)"))
    if selected and len(selected) == 2 and selected.isalpha() and selected.isupper():
        html = html.replace(f'<option value="{selected}">', f'<option value="{selected}" selected>', 1)
    elif not selected:
        html = html.replace('<option value="">', '<option value="" selected>', 1)
    return Markup(html)


def choice_options(choices: Mapping[str, str], selected: str | None) -> Any:
    """The ``<option>`` list of a menu of fixed choices (key → English text), translated, ``selected`` chosen.

    The same markup as a template loop of ``<option value="{{ key }}">{{ _(text) }}</option>``
    (the text is a translation, trusted as markup; ``%%`` means ``%``), built once per
    language and set of choices: a form with six such menus asked for thirty
    translations per page.
    """
    from markupsafe import Markup

    html = _choice_options(tuple(choices), tuple(gettext(text) for text in choices.values()))
    if selected in choices:
        html = html.replace(f'<option value="{selected}">', f'<option value="{selected}" selected>', 1)
    return Markup(html)


@functools.lru_cache(maxsize=256)
def _choice_options(keys: tuple[str, ...], texts: tuple[str, ...]) -> str:
    from markupsafe import Markup, escape

    return "".join(f'<option value="{escape(key)}">{Markup(text) % {}}</option>' for key, text in zip(keys, texts))


def format_datetime(value: Any, language: str, tz: Any) -> str:
    """A date and time for people, in ``language`` and the app's time zone ("5 de enero de 2026, 10:00")."""
    from babel.dates import format_date as babel_date
    from babel.dates import format_time as babel_time

    local = value.astimezone(tz)
    return f"{babel_date(local.date(), format='long', locale=language)}, {babel_time(local.time(), format='short', locale=language)}"


def format_date(value: Any, language: str, tz: Any = None) -> str:
    from babel.dates import format_date as babel_format

    if tz is not None and hasattr(value, "astimezone"):
        value = value.astimezone(tz).date()
    return babel_format(value, format="long", locale=language)

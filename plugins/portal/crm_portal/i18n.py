"""Languages: the gettext catalogs, choosing a language, and formatting per language.

The portal's texts are written in English in the code and templates and
translated through gettext catalogs (``translations/<lang>/LC_MESSAGES/
messages.mo``, compiled from the ``.po`` files and committed); a folder of
extra catalogs (``plugins.portal.translations_dir``) adds languages or
overrides the shipped texts. The language of the current request (or
e-mail) lives in a context variable, so one Jinja2 environment serves every
thread and language at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext as _gettext
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "Catalogs",
    "N_",
    "SHIPPED",
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
DOMAIN = "messages"
#: the language the texts are written in: it needs no catalog
SOURCE_LANGUAGE = "en"

_NULL = _gettext.NullTranslations()
_current: contextvars.ContextVar[tuple[str, _gettext.NullTranslations]] = contextvars.ContextVar(
    "crm_portal_language", default=(SOURCE_LANGUAGE, _NULL)
)


def N_(text: str) -> str:
    """Mark ``text`` for translation where it is defined; it is translated where it is shown."""
    return text


def gettext(text: str, **values: Any) -> str:
    translated = _current.get()[1].gettext(text)
    return translated % values if values else translated


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    translated = _current.get()[1].ngettext(singular, plural, n)
    return translated % {"num": n, **values}


def current_language() -> str:
    return _current.get()[0]


def set_current(
    language: str, translations: _gettext.NullTranslations
) -> contextvars.Token[tuple[str, _gettext.NullTranslations]]:
    """Translate into ``language`` from now on, in this thread or task; give the token to :func:`reset_current`."""
    return _current.set((language, translations))


def reset_current(token: contextvars.Token[tuple[str, _gettext.NullTranslations]]) -> None:
    """Go back to the language before the :func:`set_current` that gave ``token``."""
    _current.reset(token)


class Catalogs:
    """The translations of the configured languages, loaded once per app."""

    def __init__(self, languages: Sequence[str], default: str, extra_dir: Path | None = None) -> None:
        self.languages = tuple(languages)
        self.default = default
        self._translations = {language: self._load(language, extra_dir) for language in self.languages}

    @staticmethod
    def missing(languages: Sequence[str], extra_dir: Path | None = None) -> list[str]:
        """The languages without a catalog, shipped or extra (English needs none)."""
        out = []
        for language in languages:
            if language == SOURCE_LANGUAGE:
                continue
            folders = [d for d in (extra_dir, SHIPPED) if d is not None]
            if not any((d / language / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file() for d in folders):
                out.append(language)
        return out

    @staticmethod
    def _load(language: str, extra_dir: Path | None) -> _gettext.NullTranslations:
        from babel.support import Translations

        chain: list[_gettext.NullTranslations] = []
        for folder in (extra_dir, SHIPPED):
            if folder is None:
                continue
            found = Translations.load(str(folder), [language], DOMAIN)
            if isinstance(found, Translations):  # Translations.load gives NullTranslations when there is none
                chain.append(found)
        if not chain:
            return _NULL
        first = chain[0]
        for later in chain[1:]:
            first.add_fallback(later)  # the extra folder overrides, the shipped catalog fills in
        return first

    def translations(self, language: str) -> _gettext.NullTranslations:
        return self._translations.get(language, _NULL)

    def choose(self, *preferences: str | None | Sequence[str]) -> str:
        """The first offered language among ``preferences`` (tags or lists of tags), else the default."""
        for preference in preferences:
            if not preference:
                continue
            for tag in [preference] if isinstance(preference, str) else preference:
                found = match_language(tag, self.languages)
                if found:
                    return found
        return self.default

    @contextlib.contextmanager
    def use(self, language: str) -> Iterator[str]:
        """Translate into ``language`` inside the block (this thread or task only)."""
        token = _current.set((language, self.translations(language)))
        try:
            yield language
        finally:
            _current.reset(token)


def match_language(tag: str | None, offered: Sequence[str]) -> str | None:
    """The offered language a BCP 47 tag (``es-ES``, ``pt_BR``, ``EN``) asks for, or ``None``.

    An exact match wins (``pt_BR``), then the primary language (``es-MX``
    → ``es``), then an offered regional variant of it (``pt`` → ``pt_BR``).
    """
    if not tag:
        return None
    parts = tag.strip().replace("-", "_").split("_")
    if not parts[0] or parts[0] == "*":
        return None
    wanted = parts[0].lower() + ("_" + parts[1].upper() if len(parts) > 1 and parts[1] else "")
    if wanted in offered:
        return wanted
    primary = parts[0].lower()
    if primary in offered:
        return primary
    return next((o for o in offered if o.split("_")[0] == primary), None)


def language_names(languages: Sequence[str]) -> dict[str, str]:
    """Each language named in itself (``es`` → ``español``), for a language menu."""
    return dict(_language_names(tuple(languages)))


@functools.lru_cache(maxsize=64)
def _language_names(languages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    from babel import Locale, UnknownLocaleError

    out = {}
    for language in languages:
        try:
            name = Locale.parse(language).get_display_name(language) or language
        except (ValueError, UnknownLocaleError):
            name = language
        out[language] = name[:1].upper() + name[1:]
    return tuple(out.items())


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


def install_jinja(environment: Any) -> None:
    """Give a Jinja2 environment ``{% trans %}``, ``_()``, ``gettext()`` and ``ngettext()`` in the current language."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(
        gettext=lambda text: _current.get()[1].gettext(text),
        ngettext=lambda singular, plural, n: _current.get()[1].ngettext(singular, plural, n),
        newstyle=True,
    )

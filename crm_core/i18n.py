"""Languages for the CRM's web apps: gettext catalogs, the current language, choosing one, naming one.

Shared by the portal and the desk (and any plugin's web pages). Texts are
written in English and translated through gettext catalogs
(``<folder>/<lang>/LC_MESSAGES/messages.mo``). The language of the current
request (or e-mail) lives in one context variable, so one Jinja2
environment serves every thread and language at once, and the functions
here (``gettext``, ``install_jinja``) translate into it.

Babel is imported only by the functions that need it; a web plugin that
uses this module declares ``babel`` among its requirements.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext as _gettext
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DOMAIN",
    "SOURCE_LANGUAGE",
    "Catalogs",
    "Message",
    "N_",
    "current_language",
    "gettext",
    "install_jinja",
    "language_names",
    "match_language",
    "ngettext",
    "reset_current",
    "set_current",
    "translated",
]

DOMAIN = "messages"
#: the language the texts are written in: it needs no catalog
SOURCE_LANGUAGE = "en"

_NULL = _gettext.NullTranslations()
_Current = tuple[str, _gettext.NullTranslations]
_current: contextvars.ContextVar[_Current] = contextvars.ContextVar("crm_language", default=(SOURCE_LANGUAGE, _NULL))


def N_(text: str) -> str:
    """Mark ``text`` for translation where it is defined; it is translated where it is shown."""
    return text


def gettext(text: str, **values: Any) -> str:
    """``text`` in the current language, ``%(name)s`` placeholders filled from ``values``."""
    translated = _current.get()[1].gettext(text)
    return translated % values if values else translated


class Message(str):
    """Text in English that a web page can show in the user's language.

    A ``str`` (the English, as the CLI, the logs and the HTTP API show it) that
    keeps its ``template`` (marked with :func:`N_` where it is written, so the
    catalogs pick it up) and the ``params`` its ``%(name)s`` placeholders take.
    An error's reason made with it, e.g.
    ``Message(N_("%(value)r is not a date"), value=text)``, is shown
    translated by :func:`translated` wherever a catalog knows the template.
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, **params: Any) -> Message:
        text = super().__new__(cls, template % params if params else template)
        text.template = template
        text.params = params
        return text

    def __reduce__(self) -> Any:  # pickled across import workers as what it is
        return (_message, (self.template, self.params))


def _message(template: str, params: dict[str, Any]) -> Message:
    return Message(template, **params)


def translated(text: str) -> str:
    """``text`` in the current language if it is a :class:`Message` a catalog knows, else as it is.

    Values that are Messages themselves (a reason made of parts) are translated too.
    """
    if isinstance(text, Message):
        return gettext(
            text.template, **{k: translated(v) if isinstance(v, Message) else v for k, v in text.params.items()}
        )
    return text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    """The singular or plural text for ``n`` in the current language (``%(num)d`` is ``n``)."""
    translated = _current.get()[1].ngettext(singular, plural, n)
    return translated % {"num": n, **values}


def current_language() -> str:
    """The language texts are translated into in this thread or task."""
    return _current.get()[0]


def set_current(language: str, translations: _gettext.NullTranslations) -> contextvars.Token[_Current]:
    """Translate into ``language`` from now on, in this thread or task; give the token to :func:`reset_current`."""
    return _current.set((language, translations))


def reset_current(token: contextvars.Token[_Current]) -> None:
    """Go back to the language before the :func:`set_current` that gave ``token``."""
    _current.reset(token)


class Catalogs:
    """The translations of the offered languages from a list of folders (the first one that has a text wins)."""

    def __init__(self, languages: Sequence[str], default: str, folders: Sequence[Path | None]) -> None:
        self.languages = tuple(languages)
        self.default = default
        self.folders = tuple(f for f in folders if f is not None)
        self._translations = {language: self._load(language, self.folders) for language in self.languages}
        #: (language, first folder) -> the chain with that folder's catalog first, made on first use
        self._first: dict[tuple[str, Path], _gettext.NullTranslations] = {}

    @staticmethod
    def missing_in(languages: Sequence[str], folders: Sequence[Path | None]) -> list[str]:
        """The languages that no folder has a catalog for (English needs none)."""
        out = []
        for language in languages:
            if language == SOURCE_LANGUAGE:
                continue
            if not any((d / language / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file() for d in folders if d is not None):
                out.append(language)
        return out

    @staticmethod
    def _load(language: str, folders: Sequence[Path]) -> _gettext.NullTranslations:
        from babel.support import Translations

        chain: list[_gettext.NullTranslations] = []
        for folder in folders:  # loaded afresh for each chain: add_fallback links the objects themselves
            found = Translations.load(str(folder), [language], DOMAIN)
            if isinstance(found, Translations):  # Translations.load gives NullTranslations when there is none
                chain.append(found)
        if not chain:
            return _NULL
        first = chain[0]
        for later in chain[1:]:
            first.add_fallback(later)  # an earlier folder overrides, the later ones fill in
        return first

    def translations(self, language: str, first: Path | None = None) -> _gettext.NullTranslations:
        """The chained catalogs of ``language`` (no translation for a language not offered).

        With ``first`` (one of the folders), that folder's catalog is asked
        before the others: a plugin's page says "done" as its own catalog
        does, whatever another plugin's or the desk's says.
        """
        if language not in self._translations:
            return _NULL
        if first is None or first not in self.folders or first == self.folders[0]:
            return self._translations[language]
        key = (language, first)
        found = self._first.get(key)
        if found is None:
            found = self._load(language, [first, *(f for f in self.folders if f != first)])
            self._first[key] = found
        return found

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
    def use(self, language: str, first: Path | None = None) -> Iterator[str]:
        """Translate into ``language`` inside the block (this thread or task only), ``first``'s catalog first."""
        token = _current.set((language, self.translations(language, first)))
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
    """Each language named in itself (``es`` → ``Español``), for a language menu."""
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


def install_jinja(environment: Any) -> None:
    """Give a Jinja2 environment ``{% trans %}``, ``_()``, ``gettext()`` and ``ngettext()`` in the current language.

    Jinja2's own new-style callables (``install_gettext_callables(...,
    newstyle=True)``) go through three ``Context.call`` per ``_()`` (the
    ``_`` alias, the wrapper, the function), which on a form with seventy
    labels was a tenth of a page's CPU. These do the same in one: the
    translation, ``Markup`` when the template autoescapes, then always
    ``% variables`` (so ``%%`` means ``%`` whether or not values are given,
    and the values are escaped). A text without values is formatted once
    per catalog and remembered.
    """
    from jinja2 import pass_eval_context
    from markupsafe import Markup

    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(
        gettext=lambda text: _current.get()[1].gettext(text),
        ngettext=lambda singular, plural, n: _current.get()[1].ngettext(singular, plural, n),
        newstyle=True,
    )
    formatted = _formatted_markup

    @pass_eval_context
    def gettext(eval_ctx: Any, text: str, /, **variables: Any) -> str:
        translations = _current.get()[1]
        if eval_ctx.autoescape:
            if not variables:
                return formatted(translations, text)
            return Markup(translations.gettext(text)) % variables
        return translations.gettext(text) % variables

    environment.globals.update(gettext=gettext, _=gettext)


@functools.lru_cache(maxsize=4096)
def _formatted_markup(translations: _gettext.NullTranslations, text: str) -> str:
    """``text`` translated by ``translations`` as escaped markup, formatted with no values (``%%`` → ``%``)."""
    from markupsafe import Markup

    formatted: str = Markup(translations.gettext(text)) % {}
    return formatted

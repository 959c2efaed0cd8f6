"""The portal's site: its settings, keys, languages, addresses and e-mail templates.

One :class:`Site` per app, made by :class:`crm_portal.api.PortalAPI` and
shared by its services and the web app; it checks no permission (it makes
no link and reads no record of anyone's).
"""

from __future__ import annotations

import collections
import contextvars
import datetime as dt
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from crm_core.errors import NotFoundError
from crm_hookspecs.apis import ContactsAPI
from crm_portal import links

if TYPE_CHECKING:
    from pathlib import Path

    import jinja2

    from crm_core.app import CRM
    from crm_portal.i18n import Catalogs
    from crm_portal.settings import PortalSettings
    from crm_portal.templating import RenderedMail

__all__ = ["Site", "as_the_system"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def as_the_system(function: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """Call ``function`` in a fresh context: as the system, whoever acts in the caller's.

    Context variables (the kernel's acting user among them) are inherited;
    an empty context is the one way to leave none behind. The database
    connection is the thread's, so a transaction the caller holds is still
    the one written in. For what customers do (their signed link is the
    authority, not anyone's roles) and what every bulk message must carry.
    """
    return contextvars.Context().run(function, *args, **kwargs)


class Site:
    """The portal's configuration and what its pages and e-mails share (keys, catalogs, the contact's language)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._languages = _LanguageCache()
        self._key: bytes | None = None
        self._legacy: tuple[bytes | None] | None = None
        self._catalogs: Catalogs | None = None
        self._mail_env: jinja2.Environment | None = None

    def __repr__(self) -> str:
        return f"<portal Site of {self.crm!r}>"

    @property
    def settings(self) -> PortalSettings:
        settings: PortalSettings = self.crm.settings("portal")
        return settings

    @property
    def key(self) -> bytes:
        """The app's signing key (:func:`crm_core.signing.secret_key`)."""
        if self._key is None:
            self._key = links.secret(self.crm)
        return self._key

    @property
    def legacy_key(self) -> bytes | None:
        """The key of links signed before the kernel signed them, if this database has one."""
        if self._legacy is None:  # read once: a one-element tuple, as the key itself may be None
            self._legacy = (links.legacy(self.crm),)
        return self._legacy[0]

    def path_setting(self, value: str) -> Path | None:
        """A path setting, relative to the configuration file's folder; ``None`` when empty."""
        return self.crm.config.resolve_path(value) if value else None

    @property
    def catalogs(self) -> Catalogs:
        if self._catalogs is None:
            from crm_portal.i18n import Catalogs

            settings = self.settings
            self._catalogs = Catalogs(
                settings.languages, settings.default_language, self.path_setting(settings.translations_dir)
            )
        return self._catalogs

    def url(self, path: str = "") -> str:
        """An absolute address in the portal, on ``plugins.portal.base_url`` (never a request's Host)."""
        return f"{self.settings.root_url}/{path.lstrip('/')}"

    def render_mail(self, template: str, values: dict[str, Any]) -> RenderedMail:
        """Render an e-mail template in the current language (see :mod:`crm_portal.templating`)."""
        from crm_portal.templating import mail_environment, render_mail

        if self._mail_env is None:
            self._mail_env = mail_environment(self.path_setting(self.settings.templates_dir))
        return render_mail(self._mail_env, template, values)

    def contact_language(self, contact_id: int) -> str | None:
        """The contact's language, remembered for a few minutes (every personal page asks for it)."""
        found, language = self._languages.get(contact_id, self.crm.clock.now())
        if not found:
            try:
                language = self.crm.plugin("contacts", ContactsAPI).card(contact_id).language  # type: ignore[type-abstract]
            except NotFoundError:
                language = None
            self._languages.put(contact_id, language, self.crm.clock.now())
        return language


class _LanguageCache:
    """Contacts' languages for :meth:`Site.contact_language`: at most ``size`` of them, each for ``seconds``.

    A page in the contact's language costs the contacts plugin two queries
    (a card and its tags); a changed language shows within the lifetime.
    """

    def __init__(self, size: int = 10_000, seconds: float = 300.0) -> None:
        self._items: collections.OrderedDict[int, tuple[float, str | None]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self.size, self.seconds = size, seconds

    def get(self, contact_id: int, now: dt.datetime) -> tuple[bool, str | None]:
        with self._lock:
            item = self._items.get(contact_id)
            if item is None or item[0] <= now.timestamp():
                return False, None
            self._items.move_to_end(contact_id)
            return True, item[1]

    def put(self, contact_id: int, language: str | None, now: dt.datetime) -> None:
        with self._lock:
            self._items[contact_id] = (now.timestamp() + self.seconds, language)
            self._items.move_to_end(contact_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

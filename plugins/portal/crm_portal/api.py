"""``crm.plugin("portal")``: links into the portal, sign-ups and consents, for Python callers.

It implements the contract's :class:`crm_hookspecs.apis.PortalAPI`
(``unsubscribe_url``, ``unsubscribe_headers``, ``signup_url``); the rest
serves the web app, the command line and embedding applications.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import NotFoundError
from crm_portal import links

if TYPE_CHECKING:
    from pathlib import Path

    import jinja2

    from crm_core.app import CRM
    from crm_hookspecs.apis import MailingListsAPI
    from crm_portal.i18n import Catalogs
    from crm_portal.settings import PortalSettings
    from crm_portal.signup import ConfirmedSignup, PendingSignup
    from crm_portal.templating import RenderedMail

__all__ = ["ConsentRecord", "Portal", "UnsubscribeTarget"]


@attrs.frozen
class ConsentRecord:
    """One recorded consent: what was agreed, when, on which form, from where."""

    id: int
    contact_id: int | None
    form: str
    text: str
    language: str
    lists: tuple[str, ...]
    given_at: dt.datetime
    confirmed_at: dt.datetime
    ip: str | None


@attrs.frozen
class UnsubscribeTarget:
    """What an unsubscribe link names: a contact, and a list (``None``: everything)."""

    contact_id: int
    display_name: str
    email: str | None
    language: str | None
    do_not_contact: bool
    list_id: int | None
    #: the list's name; ``None`` for a link for everything, or a list deleted since
    list_name: str | None
    list_description: str = ""

    @property
    def list_gone(self) -> bool:
        return self.list_id is not None and self.list_name is None


class Portal:
    """Everything the portal plugin offers to Python callers and other plugins."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._languages = _LanguageCache()
        self._key: bytes | None = None
        self._legacy: tuple[bytes | None] | None = None
        self._catalogs: Catalogs | None = None
        self._mail_env: jinja2.Environment | None = None

    def __repr__(self) -> str:
        return f"<Portal of {self.crm!r}>"

    # -- configuration ---------------------------------------------------------

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
                language = self.crm.plugin("contacts").card(contact_id).language
            except NotFoundError:
                language = None
            self._languages.put(contact_id, language, self.crm.clock.now())
        return language

    # -- links (the contract's PortalAPI) ---------------------------------------

    def _list_id(self, list_name: str | None) -> int | None:
        if list_name is None:
            return None
        contacts: MailingListsAPI = self.crm.plugin("contacts")
        for info in contacts.lists():
            if info.name == list_name:
                return info.id
        raise NotFoundError(f"no mailing list named {list_name!r}; see 'crm contacts lists list'")

    def unsubscribe_url(self, contact_id: int, list_name: str | None = None) -> str:
        self.crm.plugin("contacts").card(int(contact_id))  # NotFoundError for an unknown contact
        token = links.make_unsubscribe_token(self.key, int(contact_id), self._list_id(list_name))
        return self.url("unsubscribe/" + token)

    def unsubscribe_urls(self, contact_ids: Sequence[int], list_name: str | None = None) -> list[str]:
        """One unsubscribe link per contact, for a batch of bulk mail (the kernel's mail queue asks through ``crm_unsubscribe_urls``).

        Unlike :meth:`unsubscribe_url` it does not look each contact up: the
        caller is mailing them. A list that does not exist is a ``NotFoundError``.
        """
        list_id = self._list_id(list_name)
        key = self.key
        return [self.url("unsubscribe/" + links.make_unsubscribe_token(key, int(c), list_id)) for c in contact_ids]

    def unsubscribe_headers(self, contact_id: int, list_name: str | None = None) -> dict[str, str]:
        return {
            "List-Unsubscribe": f"<{self.unsubscribe_url(contact_id, list_name)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def signup_url(self, form: str | None = None) -> str:
        from crm_portal.signup import find_form

        return self.url("signup/" + find_form(self, form).name)

    # -- unsubscribing ---------------------------------------------------------

    def unsubscribe_target(self, token: str) -> UnsubscribeTarget:
        """Check an unsubscribe token and say whom and what it names.

        Raises :class:`~crm_portal.links.ForgedLinkError` (403) or
        :class:`~crm_portal.links.UnknownLinkError` (404: the contact is gone).
        """
        contact_id, list_id = links.read_unsubscribe_token(self.key, token, self.legacy_key)
        contacts = self.crm.plugin("contacts")
        cards = contacts.cards([contact_id])
        if not cards or cards[0].deleted:
            raise links.UnknownLinkError("this link's contact no longer exists here")
        card = cards[0]
        name, description = None, ""
        if list_id is not None:
            found = next((info for info in contacts.lists() if info.id == list_id), None)
            if found is not None:
                name, description = found.name, found.description
        return UnsubscribeTarget(
            contact_id=card.id,
            display_name=card.display_name,
            email=card.email,
            language=card.language,
            do_not_contact=card.do_not_contact,
            list_id=list_id,
            list_name=name,
            list_description=description,
        )

    def unsubscribe(self, token: str, everything: bool = False) -> bool:
        """Unsubscribe the link's contact from its list, or (``everything``, or a link for everything) from all mail.

        Returns ``False`` when it was already so. Recorded by the contacts
        plugin as ``ContactUnsubscribed`` with channel ``self-service``.
        """
        from crm_core.errors import ValidationError

        target = self.unsubscribe_target(token)
        contacts: MailingListsAPI = self.crm.plugin("contacts")
        if everything or target.list_id is None:
            return contacts.unsubscribe(target.contact_id, None, channel="self-service")
        if target.list_name is None:
            return False  # the list was deleted: nothing is sent from it any more
        try:
            return contacts.unsubscribe(target.contact_id, target.list_name, channel="self-service")
        except ValidationError:
            return False  # not (or no longer) on the list: he gets nothing from it

    def resubscribe(self, token: str) -> bool:
        """Undo a per-list unsubscribe made with this link (the person changed his mind)."""
        target = self.unsubscribe_target(token)
        if target.list_name is None:
            return False
        contacts: MailingListsAPI = self.crm.plugin("contacts")
        return contacts.resubscribe(target.contact_id, target.list_name)

    # -- sign-up ----------------------------------------------------------------

    def request_signup(
        self,
        form: str | None,
        *,
        email: str,
        first_name: str = "",
        last_name: str = "",
        language: str | None = None,
        ip: str | None = None,
    ) -> int:
        """Keep a sign-up and e-mail its confirmation link; returns the sign-up's id (see :mod:`crm_portal.signup`)."""
        from crm_core.errors import ValidationError
        from crm_portal import fields, signup

        chosen = signup.find_form(self, form)
        for name, problem in (
            ("email", fields.check_email(email)),
            ("first_name", fields.check_line(first_name, fields.MAX_NAME)),
            ("last_name", fields.check_line(last_name, fields.MAX_NAME)),
        ):
            if problem is not None:
                raise ValidationError(f"{name}: " + problem[0] % problem[1])
        language = self.catalogs.choose(language)
        return signup.request(
            self.crm, self, chosen, email=email, first_name=first_name, last_name=last_name, language=language, ip=ip
        )

    def pending_signup(self, token: str) -> PendingSignup:
        from crm_portal import signup

        return signup.pending(self.crm, self, token)

    def confirm_signup(self, token: str) -> ConfirmedSignup:
        from crm_portal import signup

        return signup.confirm(self.crm, self, token)

    def consents(
        self, contact_id: int | None = None, form: str | None = None, limit: int | None = None
    ) -> list[ConsentRecord]:
        """Recorded consents, newest first: of one contact, of one form, or all."""
        from crm_portal.models import Consent

        with self.crm.activate():
            query = Consent.select().order_by(Consent.confirmed_at.desc(), Consent.id.desc())
            if contact_id is not None:
                query = query.where(Consent.contact_id == int(contact_id))
            if form is not None:
                query = query.where(Consent.form == form)
            if limit is not None:
                query = query.limit(limit)
            return [
                ConsentRecord(
                    id=row.id,
                    contact_id=row.contact_id,
                    form=row.form,
                    text=row.text,
                    language=row.language,
                    lists=tuple(json.loads(row.lists)),
                    given_at=row.given_at,
                    confirmed_at=row.confirmed_at,
                    ip=row.ip,
                )
                for row in query
            ]


class _LanguageCache:
    """Contacts' languages for :meth:`Portal.contact_language`: at most ``size`` of them, each for ``seconds``.

    A page in the contact's language costs the contacts plugin two queries
    (a card and its tags); a changed language shows within the lifetime.
    """

    def __init__(self, size: int = 10_000, seconds: float = 300.0) -> None:
        import collections
        import threading

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

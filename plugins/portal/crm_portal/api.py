"""``crm.plugin("portal")``: links into the portal, sign-ups and consents, for Python callers.

:class:`PortalAPI` implements the contract's :class:`crm_hookspecs.apis.PortalAPI`
(``unsubscribe_url``, ``unsubscribe_headers``, ``signup_url``); the rest
serves the web app, the command line and embedding applications. It is a
facade: each method checks the permission it needs and delegates to one of
the services it is composed of (:class:`~crm_portal.site.Site`,
:class:`~crm_portal.unsubscribing.Unsubscriptions`,
:class:`~crm_portal.signup.Signups`, :class:`~crm_portal.consents.Consents`).

Who may do what (see the "Permissions" section of the plugin's page):

- staff's methods (making links for a contact, reading what customers
  sent) check ``portal.links.create`` or ``portal.submissions.read``, and
  for a contact also that the contact is in the acting user's scope (the
  contacts plugin's ``card`` says so);
- the customers' flows (unsubscribing, signing up, confirming) are
  authorised by their signed link or public form, and run as the system
  in the portal's pages (:mod:`crm_portal.web.app`); a staff user who runs
  one from Python acts on a customer's behalf and needs
  ``portal.submissions.create`` (or ``portal.submissions.read`` to read
  what a link names);
- :meth:`PortalAPI.unsubscribe_urls` is the kernel's mail queue's and
  checks nothing: every bulk message must carry its link, whoever sends it.

The other plugins are reached through the contract only
(``crm.plugin("contacts", ContactsAPI)``: checked to offer the protocol);
the ``type: ignore[type-abstract]`` there is mypy's rule against passing a
protocol where ``CRM.plugin`` asks for ``type[T]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crm_core.errors import PermissionDenied
from crm_hookspecs.apis import ContactsAPI
from crm_portal.consents import ConsentRecord, Consents
from crm_portal.signup import Signups
from crm_portal.site import Site, as_the_system
from crm_portal.unsubscribing import UnsubscribeTarget, Unsubscriptions

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_portal.settings import PortalSettings
    from crm_portal.signup import ConfirmedSignup, PendingSignup

__all__ = ["ConsentRecord", "Portal", "PortalAPI", "UnsubscribeTarget"]

LINKS = "portal.links.create"
READ = "portal.submissions.read"
ON_BEHALF = "portal.submissions.create"


class PortalAPI:
    """Everything the portal plugin offers to Python callers and other plugins."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._site = Site(crm)
        self._unsubscriptions = Unsubscriptions(crm, self._site)
        self._signups = Signups(crm, self._site)
        self._consents = Consents(crm)

    def __repr__(self) -> str:
        return f"<PortalAPI of {self.crm!r}>"

    # -- configuration (no records: nothing to check) ---------------------------

    @property
    def settings(self) -> PortalSettings:
        """The ``[plugins.portal]`` settings."""
        return self._site.settings

    @property
    def site(self) -> Site:
        """The site the web app and the services share: settings, keys, languages, addresses, e-mail templates."""
        return self._site

    # -- links (the contract's PortalAPI) ---------------------------------------

    def _require_contact(self, permission: str, contact_id: int) -> None:
        """``permission``, and the contact in the acting user's ``contacts.read`` scope (``NotFoundError`` when unknown)."""
        self.crm.authz.require(permission)
        self._look_up(contact_id)

    def _look_up(self, contact_id: int) -> None:
        if self.crm.has_plugin("contacts"):
            # the contacts plugin raises PermissionDenied for a contact outside the user's scope
            self.crm.plugin("contacts", ContactsAPI).card(int(contact_id))  # type: ignore[type-abstract]

    def unsubscribe_url(self, contact_id: int, list_name: str | None = None) -> str:
        """A contact's signed one-click unsubscribe link (from ``list_name``, or everything); needs ``portal.links.create``."""
        self._require_contact(LINKS, contact_id)
        return self._unsubscriptions.url(int(contact_id), list_name)

    def unsubscribe_urls(self, contact_ids: Sequence[int], list_name: str | None = None) -> list[str]:
        """One unsubscribe link per contact, for a batch of bulk mail (the kernel's mail queue asks through ``crm_unsubscribe_urls``).

        It checks no permission and does not look each contact up: the
        caller is mailing them, and the law wants a way out in every bulk
        message, whoever sends it (what sends checks who may). So it runs as
        the system: finding the list's id must not need the sender's
        ``contacts.lists.read``. A list that does not exist is a ``NotFoundError``.
        """
        return as_the_system(self._unsubscriptions.urls, contact_ids, list_name)

    def unsubscribe_headers(self, contact_id: int, list_name: str | None = None) -> dict[str, str]:
        """The RFC 8058 headers for ``crm.mail.queue(headers=...)``; needs ``portal.links.create``."""
        return {
            "List-Unsubscribe": f"<{self.unsubscribe_url(contact_id, list_name)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def signup_url(self, form: str | None = None) -> str:
        """A sign-up form's address (the first form by default); needs ``portal.links.create``."""
        self.crm.authz.require(LINKS)
        return self._signups.url(form)

    # -- unsubscribing (a customer's flow) ----------------------------------------

    def unsubscribe_target(self, token: str) -> UnsubscribeTarget:
        """Check an unsubscribe token and say whom and what it names (``portal.submissions.read`` for a user).

        Raises :class:`~crm_portal.links.ForgedLinkError` (403) or
        :class:`~crm_portal.links.UnknownLinkError` (404: the contact is gone).
        """
        self.crm.authz.require(READ)
        return self._unsubscriptions.target(token)

    def unsubscribe(self, token: str, everything: bool = False) -> bool:
        """Unsubscribe the link's contact from its list, or (``everything``, or a link for everything) from all mail.

        Returns ``False`` when it was already so. Recorded by the contacts
        plugin as ``ContactUnsubscribed`` with channel ``self-service``.
        A user needs ``portal.submissions.create``.
        """
        self.crm.authz.require(ON_BEHALF)
        return self._unsubscriptions.unsubscribe(token, everything)

    def resubscribe(self, token: str) -> bool:
        """Undo a per-list unsubscribe made with this link (a user needs ``portal.submissions.create``)."""
        self.crm.authz.require(ON_BEHALF)
        return self._unsubscriptions.resubscribe(token)

    # -- sign-up (a customer's flow) ----------------------------------------------

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
        """Keep a sign-up and e-mail its confirmation link; returns the sign-up's id (see :mod:`crm_portal.signup`).

        A user needs ``portal.submissions.create``.
        """
        self.crm.authz.require(ON_BEHALF)
        return self._signups.request(
            form, email=email, first_name=first_name, last_name=last_name, language=language, ip=ip
        )

    def pending_signup(self, token: str) -> PendingSignup:
        """The sign-up behind a confirmation link, checked but not confirmed (``portal.submissions.read`` for a user)."""
        self.crm.authz.require(READ)
        return self._signups.pending(token)

    def confirm_signup(self, token: str) -> ConfirmedSignup:
        """Confirm the sign-up behind a confirmation link, once (a user needs ``portal.submissions.create``)."""
        self.crm.authz.require(ON_BEHALF)
        return self._signups.confirm(token)

    # -- what customers sent (staff's) -----------------------------------------------

    def consents(
        self, contact_id: int | None = None, form: str | None = None, limit: int | None = None
    ) -> list[ConsentRecord]:
        """Recorded consents, newest first: of one contact, of one form, or all; needs ``portal.submissions.read``.

        A user sees one contact's consents when the contact is in their
        ``contacts.read`` scope, and every consent only with the scope
        ``all`` (a consent is a contact's, and the portal cannot filter by
        another plugin's owners in SQL).
        """
        self.crm.authz.require(READ)
        if contact_id is None:
            self._require_every_contact()
        elif self.crm.current_user is not None:
            self._look_up(contact_id)  # the system may ask about a contact that is gone: it gets []
        return self._consents.records(contact_id, form=form, limit=limit)

    def _require_every_contact(self) -> None:
        user = self.crm.current_user
        if user is None or not self.crm.has_plugin("contacts"):
            return
        scope = self.crm.authz.scope("contacts.read")
        if scope != "all":
            raise PermissionDenied(
                f"user {user.name!r} may list the consents of one contact at a time (their scope for contacts.read is "
                f"{scope or 'none'}, not all): give a contact id ('crm portal consents ID')",
                "contacts.read",
            )


#: the class's name before the plugin layout of contract 1.x; the same class
Portal = PortalAPI  # deprecated alias until contract 2.0

"""Sign-up with double opt-in: a request, an e-mail with a link, a confirmation.

A sign-up form's request is kept in ``portal_signup`` with the consent text
shown, word for word, and a confirmation link is queued by e-mail in the
same transaction. Nothing enters the address book until the person opens
the link and confirms: then, in one transaction, the contact is found by
e-mail address or created as a prospect, joins the form's lists, and the
consent is recorded (``portal_consent``, and a ``ConsentGiven`` event). A
confirmed sign-up is an explicit, fresh consent: it rejoins a list the
person had left, and clears a do-not-contact flag.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import attrs

from crm_core.errors import NotFoundError, ValidationError
from crm_core.storage import for_update
from crm_hookspecs.apis import ContactsAPI, ContactsEditing, MailingListsAPI
from crm_portal.links import ExpiredLinkError, UnknownLinkError, UsedLinkError, new_nonce, read_confirm_token
from crm_portal.models import Consent, Signup

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_portal.settings import SignupForm
    from crm_portal.site import Site

__all__ = ["ConfirmedSignup", "PendingSignup", "Signups", "confirm", "pending", "request"]


@attrs.frozen
class PendingSignup:
    """A sign-up whose link was opened, before it is confirmed."""

    id: int
    form: str
    email: str
    first_name: str
    last_name: str
    language: str
    consent_text: str
    requested_at: dt.datetime
    expires_at: dt.datetime


@attrs.frozen
class ConfirmedSignup:
    contact_id: int
    #: the contact was made now (else an existing contact with that address was used)
    created: bool
    lists: tuple[str, ...]
    consent_id: int
    language: str


def text_for(texts: dict[str, str], language: str, default: str) -> str:
    """A configured text in ``language``, else the default language's, else the first given."""
    from crm_portal.i18n import match_language

    found = match_language(language, tuple(texts))
    if found:
        return texts[found]
    found = match_language(default, tuple(texts))
    return texts[found] if found else next(iter(texts.values()))


def check_lists(crm: CRM, form: SignupForm) -> list[str]:
    """The form's lists that do not exist (a configuration to fix before the form can work)."""
    if not form.lists:
        return []
    known = {info.name for info in crm.plugin("contacts", MailingListsAPI).lists()}  # type: ignore[type-abstract]
    return [name for name in form.lists if name not in known]


def request(
    crm: CRM,
    site: Site,
    form: SignupForm,
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    language: str,
    ip: str | None = None,
) -> int:
    """Keep a sign-up and queue its confirmation e-mail; returns the sign-up's id.

    The values are expected checked (:mod:`crm_portal.fields`); an address
    the mail queue refuses raises ``ValidationError`` and nothing is kept.
    """
    from crm_portal.i18n import format_datetime
    from crm_portal.links import make_confirm_token

    settings = site.settings
    now = crm.clock.now()
    expires_at = (now + dt.timedelta(hours=settings.signup_ttl_hours)).replace(microsecond=0)
    consent = text_for(form.consent, language, settings.default_language)
    nonce = new_nonce()
    with crm.transaction():
        row = Signup.create(
            form=form.name,
            email=email.strip(),
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            language=language,
            consent_text=consent,
            ip=ip,
            nonce=nonce,
            requested_at=now,
            expires_at=expires_at,
        )
        token = make_confirm_token(site.key, row.id, expires_at, nonce)
        with site.catalogs.use(language):
            mail = site.render_mail(
                "portal/email/signup_confirm.html",
                {
                    "site_name": settings.site_name,
                    "first_name": row.first_name,
                    "title": text_for(form.title, language, settings.default_language),
                    "consent": consent,
                    # the language rides along: the page refusing an expired link speaks it even
                    # after the clean-up forgot the sign-up, in whatever browser opens the link
                    "link": site.url(f"signup/confirm/{token}?{urlencode({'lang': language})}"),
                    "expires": format_datetime(expires_at, language, crm.tz),
                },
            )
        crm.mail.queue(row.email, mail.subject, mail.text, html=mail.html, key=f"portal.signup:{row.id}")
    return row.id


def _row_for(crm: CRM, site: Site, token: str, lock: bool = False) -> Signup:
    claims = read_confirm_token(site.key, token, crm.clock.now(), site.legacy_key)
    query = Signup.select().where(Signup.id == claims.signup_id)
    row: Signup | None = (for_update(query, crm.database) if lock else query).first()
    if row is None or row.nonce != claims.nonce:
        raise UnknownLinkError(
            "this confirmation link names no sign-up here (it was withdrawn or belongs to another site)"
        )
    if row.confirmed_at is not None:
        raise UsedLinkError(f"this sign-up was already confirmed on {row.confirmed_at:%Y-%m-%d %H:%M} UTC")
    if crm.clock.now() >= row.expires_at:
        raise ExpiredLinkError(f"the confirmation link expired on {row.expires_at:%Y-%m-%d %H:%M} UTC")
    return row


def language_of(crm: CRM, site: Site, token: str) -> str | None:
    """The language of the sign-up a genuine confirmation link names, also once the link expired or was used.

    ``None`` when the link is forged or its sign-up is gone (an expired one is
    forgotten by the worker's clean-up; its link carries ``?lang=`` for that).
    """
    from crm_portal.links import LinkError

    try:
        claims = read_confirm_token(site.key, token, None, site.legacy_key)
    except LinkError:
        return None
    with crm.activate():
        row = Signup.select(Signup.language, Signup.nonce).where(Signup.id == claims.signup_id).first()
    return row.language if row is not None and row.nonce == claims.nonce else None


def pending(crm: CRM, site: Site, token: str) -> PendingSignup:
    """The sign-up behind a confirmation link, checked (forged, expired, used, unknown) but not confirmed."""
    with crm.activate():
        row = _row_for(crm, site, token)
    return PendingSignup(
        id=row.id,
        form=row.form,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        language=row.language,
        consent_text=row.consent_text,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
    )


def confirm(crm: CRM, site: Site, token: str) -> ConfirmedSignup:
    """Confirm the sign-up behind ``token``: once, in one transaction (see the module doc)."""
    from crm_hookspecs.events import ConsentGiven

    contacts = crm.plugin("contacts", ContactsAPI)  # type: ignore[type-abstract]
    editing = crm.plugin("contacts", ContactsEditing)  # type: ignore[type-abstract]
    lists = crm.plugin("contacts", MailingListsAPI)  # type: ignore[type-abstract]
    with crm.transaction():
        row = _row_for(crm, site, token, lock=True)
        form = site.settings.form(row.form)
        if form is None:
            raise UnknownLinkError(f"the sign-up form {row.form!r} is no longer offered")
        missing = check_lists(crm, form)
        if missing:
            raise ValidationError(
                f"plugins.portal.signup_forms: the form {form.name!r} names the mailing list {missing[0]!r}, which does not exist; "
                "create it (crm contacts lists create) or fix the form"
            )
        found = contacts.search(email=row.email, limit=1).cards
        if found:
            contact_id, created = found[0].id, False
            if found[0].do_not_contact:
                editing.update(contact_id, do_not_contact=False, channel="self-service")
        else:
            values: dict[str, Any] = {
                "first_name": row.first_name,
                "last_name": row.last_name,
                "language": row.language,
            }
            record = editing.create(email=row.email, status="prospect", channel="self-service", **values)
            contact_id, created = record.id, True
        for name in form.lists:
            lists.add_to_list(name, [contact_id])
            lists.resubscribe(contact_id, name)
        now = crm.clock.now()
        consent = Consent.create(
            contact_id=contact_id,
            signup=row.id,
            form=row.form,
            text=row.consent_text,
            language=row.language,
            lists=json.dumps(list(form.lists)),
            ip=row.ip,
            given_at=row.requested_at,
            confirmed_at=now,
        )
        Signup.update(confirmed_at=now, contact_id=contact_id).where(Signup.id == row.id).execute()
        crm.emit(
            ConsentGiven(
                contact_id=contact_id,
                source=f"signup:{row.form}",
                text=row.consent_text,
                language=row.language,
                lists=list(form.lists),
                given_at=row.requested_at,
                record_id=consent.id,
                channel="self-service",
            )
        )
    return ConfirmedSignup(contact_id, created, tuple(form.lists), consent.id, row.language)


def forget_expired(crm: CRM) -> int:
    """Delete unconfirmed sign-ups whose link has expired: they hold an address without consent."""
    with crm.transaction():
        deleted: int = (
            Signup.delete().where(Signup.confirmed_at.is_null() & (Signup.expires_at <= crm.clock.now())).execute()
        )
        return deleted


def find_form(site: Site, name: str | None) -> SignupForm:
    forms = site.settings.signup_forms
    if not forms:
        raise NotFoundError("no sign-up form is configured ([[plugins.portal.signup_forms]])")
    if name is None:
        return forms[0]
    form = site.settings.form(name)
    if form is None:
        raise NotFoundError(f"no sign-up form named {name!r}; the forms are: {', '.join(f.name for f in forms)}")
    return form


class Signups:
    """The sign-up service: forms' addresses, requests, and their confirmation (no permission checks: the facade's)."""

    def __init__(self, crm: CRM, site: Site) -> None:
        self.crm = crm
        self.site = site

    def form(self, name: str | None) -> SignupForm:
        """The sign-up form ``name`` (the first one for ``None``); ``NotFoundError`` naming the forms."""
        return find_form(self.site, name)

    def url(self, form: str | None = None) -> str:
        return self.site.url("signup/" + self.form(form).name)

    def request(
        self,
        form: str | None,
        *,
        email: str,
        first_name: str = "",
        last_name: str = "",
        language: str | None = None,
        ip: str | None = None,
    ) -> int:
        """Check the values, keep a sign-up and e-mail its confirmation link; returns the sign-up's id."""
        from crm_portal import fields

        chosen = self.form(form)
        for name, problem in (
            ("email", fields.check_email(email)),
            ("first_name", fields.check_line(first_name, fields.MAX_NAME)),
            ("last_name", fields.check_line(last_name, fields.MAX_NAME)),
        ):
            if problem is not None:
                raise ValidationError(f"{name}: " + problem[0] % problem[1])
        return request(
            self.crm,
            self.site,
            chosen,
            email=email,
            first_name=first_name,
            last_name=last_name,
            language=self.site.catalogs.choose(language),
            ip=ip,
        )

    def pending(self, token: str) -> PendingSignup:
        return pending(self.crm, self.site, token)

    def confirm(self, token: str) -> ConfirmedSignup:
        return confirm(self.crm, self.site, token)

    def language_of(self, token: str) -> str | None:
        return language_of(self.crm, self.site, token)

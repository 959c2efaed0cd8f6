"""Self-service updates: a customer changes his own details through a link.

Staff (or a mailing) issues a link with :meth:`SelfService.issue_update_link`:
a signed, expiring, single-use token bound to one contact and to the fields
he may change (see :mod:`crm_contacts.tokens`). The web portal reads the
token with :meth:`~SelfService.inspect_update_token` to draw the form,
may show what would change with :meth:`~SelfService.preview_update`, and
sends the form to :meth:`~SelfService.submit_update`. The submitted values
go through the same checks as a staff edit; then, per
``plugins.contacts.self_service.mode``, they are applied at once
(``ContactChanged`` with channel ``self-service``) or queued for staff, who
approve or reject them (:meth:`~SelfService.approve_update`,
:meth:`~SelfService.reject_update`). A wish not to be contacted is never
queued: it is applied at once in both modes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_contacts.fields import FieldError, clean
from crm_contacts.models import Contact, PendingUpdate, UpdateToken
from crm_contacts.records import snapshot
from crm_contacts.tokens import (
    ExpiredTokenError,
    InvalidChangeError,
    OutOfScopeError,
    TokenClaims,
    UnknownTokenError,
    UsedTokenError,
    legacy_secret,
    make_token,
    new_nonce,
    read_token,
)
from crm_core.errors import NotFoundError, ValidationError
from crm_core.signing import secret_key
from crm_core.statements import Statement
from crm_core.storage import for_update
from crm_hookspecs.records import FieldChange, UpdateForm, UpdateLink, UpdatePreview, UpdateResult

if TYPE_CHECKING:
    from crm_contacts.book import AddressBook
    from crm_contacts.records import ContactRecord
    from crm_core.app import CRM

__all__ = ["MAX_TTL_HOURS", "PendingChange", "SelfService", "UpdateForm", "UpdateLink", "UpdatePreview", "UpdateResult"]

#: longest life of a link: 90 days
MAX_TTL_HOURS = 24 * 90
REVIEW_STATUSES = ("pending", "approved", "rejected")


def _token_and_contact(nonce: str) -> Any:
    """An update link's row (its contact's id, when it was used) and its contact's columns, in one query."""
    import peewee

    from crm_contacts.reading import contact_fields

    return (
        UpdateToken.select(UpdateToken.contact, UpdateToken.used_at, *contact_fields())
        .join(Contact, peewee.JOIN.LEFT_OUTER, on=UpdateToken.contact == Contact.id)
        .where(UpdateToken.nonce == nonce)
    )


_CONTACT_GONE = "this update link is no longer valid: the contact it was made for no longer exists"

#: read on every request of the portal's update form (crm_core.statements: its SQL is built once)
_TOKEN_AND_CONTACT = Statement("contacts.update_token_and_contact", _token_and_contact)


@attrs.frozen
class PendingChange:
    """A queued self-service change. ``changes`` is against the contact as it is now."""

    id: int
    contact_id: int
    display_name: str
    submitted_at: dt.datetime
    status: str
    submitted: dict[str, Any]
    changes: dict[str, FieldChange]
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    note: str = ""


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class SelfService:
    """The self-service service: update links, the portal's forms, and staff review of queued changes.

    It checks no permission (:class:`crm_contacts.api.ContactsAPI` does;
    the token is the customer's permission).
    """

    def __init__(self, crm: CRM, book: AddressBook) -> None:
        self.crm = crm
        self._book = book

    @property
    def _self_service(self) -> Any:
        return self.crm.settings("contacts").self_service

    # -- issuing ---------------------------------------------------------------

    def issue_update_link(
        self,
        contact_id: int,
        fields: Sequence[str] | None = None,
        ttl_hours: float | None = None,
        *,
        actor: str | None = None,
    ) -> UpdateLink:
        """A new link for ``contact_id`` to change ``fields`` (default: every configured one).

        ``ttl_hours`` defaults to ``plugins.contacts.self_service.ttl_hours``.
        Raises ValidationError for a field the
        configuration does not allow or a bad ttl, NotFoundError for an
        unknown or deleted contact.
        """
        settings = self._self_service
        key = secret_key(self.crm)
        allowed = tuple(settings.fields)
        if fields is None:
            chosen = allowed
        else:
            if isinstance(fields, str):
                fields = [f for f in fields.replace(" ", "").split(",") if f]
            chosen = tuple(dict.fromkeys(str(f).strip() for f in fields))
            if not chosen:
                raise ValidationError(
                    f"fields: name at least one field the link lets the contact change; choose from {', '.join(allowed)}"
                )
            outside = [f for f in chosen if f not in allowed]
            if outside:
                raise ValidationError(
                    f"fields: {outside[0]!r} cannot be changed through self-service here; choose from {', '.join(allowed)} "
                    "(plugins.contacts.self_service.fields)"
                )
        ordered = tuple(f for f in allowed if f in chosen)
        hours = settings.ttl_hours if ttl_hours is None else ttl_hours
        if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= MAX_TTL_HOURS:
            raise ValidationError(
                f"ttl: {ttl_hours!r} hours is not allowed; give more than 0 and at most {MAX_TTL_HOURS} hours (90 days)"
            )
        now = self.crm.clock.now()
        # whole seconds: the token carries Unix seconds
        expires_at = (now + dt.timedelta(hours=hours)).replace(microsecond=0)
        nonce = new_nonce()
        with self.crm.transaction():
            contact = Contact.get_or_none(Contact.id == int(contact_id))
            if contact is None:
                raise NotFoundError(f"no contact with id {contact_id}; find it with 'crm contacts search'")
            if contact.deleted_at is not None:
                raise ValidationError(f"contact {contact_id} is deleted; restore it before sending it an update link")
            UpdateToken.create(
                nonce=nonce,
                contact=contact.id,
                fields=json.dumps(list(ordered)),
                created_at=now,
                created_by=actor,
                expires_at=expires_at,
            )
        token = make_token(key, contact.id, ordered, expires_at, nonce)
        return UpdateLink(
            token=token, url=settings.base_url + token, contact_id=contact.id, fields=ordered, expires_at=expires_at
        )

    def revoke_update_links(self, contact_id: int) -> int:
        """Withdraw every unused link of a contact (they then fail as unknown); returns how many."""
        with self.crm.transaction():
            return (
                UpdateToken.delete()
                .where((UpdateToken.contact == int(contact_id)) & UpdateToken.used_at.is_null())
                .execute()
            )

    # -- reading a token -------------------------------------------------------

    def _check_token(self, token: str) -> tuple[TokenClaims, UpdateToken, Contact]:
        """The token's claims, row and contact, locked for the submission, or the error that refuses it."""
        claims = read_token(secret_key(self.crm), token, legacy_secret(self._self_service.secret))
        row = for_update(UpdateToken.select().where(UpdateToken.nonce == claims.nonce), self.crm.database).first()
        self._refuse_link(claims, None if row is None else row.contact_id, None if row is None else row.used_at)
        contact = for_update(Contact.select().where(Contact.id == claims.contact_id), self.crm.database).first()
        if contact is None or contact.deleted_at is not None:
            raise UnknownTokenError(_CONTACT_GONE)
        return claims, row, contact

    def _peek_token(self, token: str) -> tuple[TokenClaims, ContactRecord]:
        """What :meth:`_check_token` checks, in the same order, without locks: the token's row and its contact
        in one query, the contact's children in one more (the portal's form and preview take this path on
        every request)."""
        from crm_contacts.reading import complete_records, contact_row

        claims = read_token(secret_key(self.crm), token, legacy_secret(self._self_service.secret))
        found = _TOKEN_AND_CONTACT.rows(claims.nonce)
        token_contact, used_at, *values = found[0] if found else (None, None)
        self._refuse_link(claims, token_contact, used_at)
        contact = contact_row(values)
        if contact is None or contact["deleted_at"] is not None:
            raise UnknownTokenError(_CONTACT_GONE)
        return claims, complete_records([contact])[contact["id"]]

    def _refuse_link(self, claims: TokenClaims, token_contact: int | None, used_at: dt.datetime | None) -> None:
        """The error for a link whose row names another contact (or is gone), was used, or has expired."""
        if token_contact is None or token_contact != claims.contact_id:
            raise UnknownTokenError(
                "this update link is no longer valid: it was withdrawn or belongs to another CRM; ask us for a new one"
            )
        if used_at is not None:
            raise UsedTokenError(
                f"this update link was already used on {_utc(used_at)}; each link works once, ask us for a new one",
                used_at,
            )
        if self.crm.clock.now() >= claims.expires_at:
            raise ExpiredTokenError(
                f"this update link expired on {_utc(claims.expires_at)}; ask us for a new one", claims.expires_at
            )

    def inspect_update_token(self, token: str) -> UpdateForm:
        """Check ``token`` without using it up; return what the form needs (two queries)."""
        with self.crm.activate():
            claims, record = self._peek_token(token)
        current = snapshot(record)
        return UpdateForm(
            contact_id=record.id,
            display_name=record.display_name,
            fields=claims.fields,
            current={f: current[f] for f in claims.fields},
            expires_at=claims.expires_at,
            mode=self._self_service.mode,
        )

    def _clean_change(self, claims: TokenClaims, changes: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(changes, Mapping):
            raise InvalidChangeError("changes", f"expected a table of field = value, not {type(changes).__name__}")
        outside = tuple(str(k) for k in changes if k not in claims.fields)
        if outside:
            raise OutOfScopeError(
                f"this update link does not let you change {', '.join(outside)}; it covers {', '.join(claims.fields)}",
                outside,
                claims.fields,
            )
        if not changes:
            raise InvalidChangeError(
                "changes", f"nothing was submitted; send at least one of {', '.join(claims.fields)}"
            )
        try:
            # the person is at the form: a phone that cannot be read is theirs to fix, not to keep unverified
            return clean(changes, region=self.crm.settings("contacts").default_region or None, keep_unreadable=False)
        except FieldError as exc:
            raise InvalidChangeError(exc.field, exc.reason) from None

    def preview_update(self, token: str, changes: Mapping[str, Any]) -> UpdatePreview:
        """What submitting ``changes`` with ``token`` would change; checks everything, writes nothing."""
        book = self._book
        with self.crm.activate():
            claims, before = self._peek_token(token)
            data = self._clean_change(claims, changes)
            _, diff = self._plan(book, before.id, before, data)
        return UpdatePreview(contact_id=before.id, changes=diff, mode=self._self_service.mode)

    @staticmethod
    def _plan(
        book: AddressBook, contact_id: int, before: Any, data: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, FieldChange]]:
        try:
            return book.plan_update(contact_id, before, data)
        except ValidationError as exc:
            raise InvalidChangeError("display_name", str(exc)) from None

    # -- submitting ------------------------------------------------------------

    def submit_update(self, token: str, changes: Mapping[str, Any]) -> UpdateResult:
        """Use ``token`` once to change the contact's details (see the module doc).

        A refused token or an invalid value raises (see
        :mod:`crm_contacts.tokens`) and leaves the token unused, so the
        customer can correct the form and send it again.
        """
        book = self._book
        mode = self._self_service.mode
        with self.crm.transaction():
            claims, row, contact = self._check_token(token)
            data = self._clean_change(claims, changes)
            before = book.records([contact.id])[contact.id]
            _, diff = self._plan(book, contact.id, before, data)
            now = self.crm.clock.now()
            # the guard on used_at makes a second, concurrent use fail here
            claimed = (
                UpdateToken.update(used_at=now)
                .where((UpdateToken.id == row.id) & UpdateToken.used_at.is_null())
                .execute()
            )
            if claimed != 1:
                raise UsedTokenError(
                    "this update link was already used; each link works once, ask us for a new one", None
                )
            if not diff:
                return UpdateResult(status="unchanged", contact_id=contact.id, changes={})
            if mode == "apply":
                book.apply_update(contact, before, data, actor=None, channel="self-service")
                return UpdateResult(status="applied", contact_id=contact.id, changes=diff, applied=tuple(diff))
            applied: dict[str, Any] = {}
            if "do_not_contact" in diff and diff["do_not_contact"].new is True:
                applied["do_not_contact"] = True
                before = book.apply_update(contact, before, applied, actor=None, channel="self-service")
            queued = {k: v for k, v in data.items() if k in diff and k not in applied}
            if not queued:
                return UpdateResult(status="applied", contact_id=contact.id, changes=diff, applied=tuple(applied))
            pending = PendingUpdate.create(
                contact=contact.id, token=row.id, changes=json.dumps(queued), submitted_at=now
            )
        return UpdateResult(
            status="pending", contact_id=contact.id, changes=diff, pending_id=pending.id, applied=tuple(applied)
        )

    # -- staff review ------------------------------------------------------------

    def pending_updates(
        self, status: str = "pending", contact_id: int | None = None, *, visible: Any = None
    ) -> list[PendingChange]:
        """Queued self-service changes, oldest first: ``pending`` (default), ``approved``, ``rejected`` or ``all``."""
        if status not in (*REVIEW_STATUSES, "all"):
            raise ValidationError(f"status {status!r} is not known; use pending, approved, rejected or all")
        with self.crm.activate():
            query = PendingUpdate.select().order_by(PendingUpdate.submitted_at, PendingUpdate.id)
            if status != "all":
                query = query.where(PendingUpdate.status == status)
            if contact_id is not None:
                query = query.where(PendingUpdate.contact == int(contact_id))
            if visible is not None:
                query = query.where(PendingUpdate.contact.in_(Contact.select(Contact.id).where(visible)))
            return self._pending_views(list(query))

    def pending_update(self, pending_id: int) -> PendingChange:
        """One queued change (in any status)."""
        with self.crm.activate():
            row = PendingUpdate.get_or_none(PendingUpdate.id == int(pending_id))
            if row is None:
                raise NotFoundError(f"no self-service change {pending_id}; see 'crm contacts review'")
            return self._pending_views([row])[0]

    def _pending_views(self, rows: list[PendingUpdate]) -> list[PendingChange]:
        book = self._book
        records = book.records(list({r.contact_id for r in rows}))
        out = []
        for r in rows:
            submitted = json.loads(r.changes)
            record = records.get(r.contact_id)
            diff: dict[str, FieldChange] = {}
            if record is not None and r.status == "pending":
                try:
                    _, diff = book.plan_update(r.contact_id, record, clean(submitted, region=book.region))
                except (FieldError, ValidationError):
                    diff = {}
            out.append(
                PendingChange(
                    id=r.id,
                    contact_id=r.contact_id,
                    display_name=record.display_name if record else "",
                    submitted_at=r.submitted_at,
                    status=r.status,
                    submitted=submitted,
                    changes=diff,
                    reviewed_by=r.reviewed_by,
                    reviewed_at=r.reviewed_at,
                    note=r.note,
                )
            )
        return out

    def _locked_pending(self, pending_id: int) -> PendingUpdate:
        row = for_update(PendingUpdate.select().where(PendingUpdate.id == int(pending_id)), self.crm.database).first()
        if row is None:
            raise NotFoundError(f"no self-service change {pending_id}; see 'crm contacts review'")
        if row.status != "pending":
            by = f" by {row.reviewed_by}" if row.reviewed_by else ""
            when = f" on {_utc(row.reviewed_at)}" if row.reviewed_at else ""
            raise ValidationError(
                f"self-service change {pending_id} was already {row.status}{by}{when}; nothing was done"
            )
        return row

    def approve_update(self, pending_id: int, *, actor: str | None = None, note: str = "") -> PendingChange:
        """Apply a queued change (``ContactChanged`` with channel ``self-service`` and the reviewer as actor)."""
        book = self._book
        with self.crm.transaction():
            row = self._locked_pending(pending_id)
            contact = book.locked(row.contact_id)
            if contact.deleted_at is not None:
                where = f" (merged into {contact.merged_into})" if contact.merged_into else ""
                raise ValidationError(
                    f"contact {contact.id} is deleted{where}; reject change {pending_id} with 'crm contacts review {pending_id} --reject'"
                )
            try:
                data = clean(json.loads(row.changes), region=book.region)
            except FieldError as exc:
                raise ValidationError(
                    f"self-service change {pending_id}: {exc.field}: {exc.reason}; reject it"
                ) from None
            before = book.records([contact.id])[contact.id]
            _, diff = book.plan_update(contact.id, before, data)
            book.apply_update(contact, before, data, actor=actor, channel="self-service")
            now = self.crm.clock.now()
            PendingUpdate.update(status="approved", reviewed_by=actor, reviewed_at=now, note=note[:500]).where(
                PendingUpdate.id == row.id
            ).execute()
            view = self._pending_views([PendingUpdate.get_by_id(row.id)])[0]
        return attrs.evolve(view, changes=diff)

    def reject_update(self, pending_id: int, *, actor: str | None = None, note: str = "") -> PendingChange:
        """Refuse a queued change; the contact stays as it is."""
        with self.crm.transaction():
            row = self._locked_pending(pending_id)
            PendingUpdate.update(
                status="rejected", reviewed_by=actor, reviewed_at=self.crm.clock.now(), note=note[:500]
            ).where(PendingUpdate.id == row.id).execute()
            return self._pending_views([PendingUpdate.get_by_id(row.id)])[0]

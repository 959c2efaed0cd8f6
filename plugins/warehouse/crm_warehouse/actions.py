"""Staff actions: meeting notes, calls and e-mails logged against a contact or a sale.

A user reads and logs them (``warehouse.actions.read`` / ``.create``) only
for contacts in their ``contacts.read`` scope, and against a sale only one
they may read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import NotFoundError, ValidationError
from crm_warehouse.checks import check_id, check_text

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_warehouse.contact_scope import ContactScope
    from crm_warehouse.models import StaffActionRow
    from crm_warehouse.sales import SalesBook

__all__ = ["ACTION_KINDS", "StaffAction", "StaffLog", "action_of"]

ACTION_KINDS = ("note", "call", "meeting", "email")
MAX_BODY = 100_000
READ = "warehouse.actions.read"
CREATE = "warehouse.actions.create"


@attrs.frozen
class StaffAction:
    id: int
    kind: str
    contact_id: int | None
    sale_id: int | None
    author: str | None
    occurred_at: dt.datetime
    logged_at: dt.datetime
    subject: str
    body: str

    def as_row(self) -> dict[str, Any]:
        return attrs.asdict(self)


def action_of(row: StaffActionRow) -> StaffAction:
    return StaffAction(
        id=row.id,
        kind=row.kind,
        contact_id=row.contact_id,
        sale_id=row.sale_id,
        author=row.author,
        occurred_at=row.occurred_at,
        logged_at=row.logged_at,
        subject=row.subject,
        body=row.body,
    )


class StaffLog:
    """``crm.plugin("warehouse").actions``: log and read staff actions."""

    def __init__(self, crm: CRM, sales: SalesBook, contacts: ContactScope) -> None:
        self.crm = crm
        self._sales = sales
        self._contacts = contacts

    def log(
        self,
        kind: str,
        *,
        contact_id: int | None = None,
        sale_id: int | None = None,
        subject: str = "",
        body: str = "",
        author: str | None = None,
        occurred_at: dt.datetime | None = None,
        channel: str = "staff",
    ) -> StaffAction:
        """Log a note, call, meeting or e-mail; emits ``StaffActionLogged``.

        Give a contact, a sale or both; with a sale alone the note is about the
        sale's contact. ``occurred_at`` (aware; default now) is when the call
        or meeting took place, never in the future. ``author`` defaults to
        the acting user's name.
        """
        from crm_hookspecs.events import StaffActionLogged
        from crm_warehouse.models import StaffActionRow

        self.crm.authz.require(CREATE)
        if author is None and self.crm.current_user is not None:
            author = self.crm.current_user.name

        if kind not in ACTION_KINDS:
            raise ValidationError(f"kind {kind!r} is not one of {', '.join(ACTION_KINDS)}")
        if contact_id is None and sale_id is None:
            raise ValidationError(
                "a staff action is logged against a contact or a sale: give contact_id or sale_id (--contact / --sale)"
            )
        subject_text = check_text(subject, "subject", 300) or ""
        body_text = check_text(body, "text", MAX_BODY) or ""
        if not subject_text and not body_text:
            raise ValidationError(f"the {kind} is empty: give a subject or some text")
        author = check_text(author, "author", 100)
        now = self.crm.clock.now()
        if occurred_at is None:
            occurred_at = now
        elif not isinstance(occurred_at, dt.datetime) or occurred_at.tzinfo is None:
            raise ValidationError(f"occurred_at {occurred_at!r} must be an aware datetime (with a time zone)")
        elif occurred_at > now + dt.timedelta(minutes=5):
            raise ValidationError(
                f"occurred_at {occurred_at.isoformat()} is in the future; log a {kind} once it has happened"
            )
        contact = check_id(contact_id, "contact") if contact_id is not None else None
        with self.crm.transaction():
            sale = None
            if sale_id is not None:
                sale = self._sales.get(check_id(sale_id, "sales record"))  # NotFoundError, PermissionDenied
                if contact is None:
                    contact = sale.contact_id
            self._contacts.require(contact)
            if contact_id is not None and self.crm.has_plugin("contacts"):  # a sale's contact is known already
                self.crm.plugin("contacts").card(contact)  # NotFoundError names the contact
            row = StaffActionRow.create(
                kind=kind,
                contact_id=contact,
                sale=sale.id if sale else None,
                author=author,
                occurred_at=occurred_at,
                logged_at=now,
                subject=subject_text,
                body=body_text,
            )
            self.crm.emit(
                StaffActionLogged(
                    action_id=row.id,
                    contact_id=contact,
                    kind=kind,
                    author=author,
                    sale_id=sale.id if sale else None,
                    actor=author,
                    channel=channel,
                )  # fmt: skip
            )
            return action_of(row)

    def get(self, action_id: int) -> StaffAction:
        from crm_warehouse.models import StaffActionRow

        self.crm.authz.require(READ)
        with self.crm.activate():
            row = StaffActionRow.get_or_none(StaffActionRow.id == check_id(action_id, "staff action"))
            if row is None:
                raise NotFoundError(f"staff action {action_id} does not exist; 'crm warehouse actions' lists them")
            self._contacts.require(row.contact_id)
            return action_of(row)

    def many(self, action_ids: Iterable[int]) -> dict[int, StaffAction]:
        """The staff actions among ``action_ids`` that exist and concern contacts in the user's scope, by id.

        One query whatever the number of ids (a page of a contact's timeline
        shows the subjects of the actions it lists); an id that does not
        exist or is out of scope is left out, not an error.
        """
        from crm_warehouse.models import StaffActionRow as A

        self.crm.authz.require(READ)
        ids = sorted({check_id(action_id, "staff action") for action_id in action_ids})
        if not ids:
            return {}
        with self.crm.activate():
            query = self._contacts.restrict(A.select(), A.contact_id).where(A.id.in_(ids))
            return {row.id: action_of(row) for row in query}

    def list(
        self,
        *,
        contact_id: int | None = None,
        sale_id: int | None = None,
        kind: str | None = None,
        author: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[StaffAction]:
        """Staff actions matching every filter given, the most recent first (about contacts in the user's scope)."""
        from crm_warehouse.models import StaffActionRow as A

        self.crm.authz.require(READ)
        query = self._contacts.restrict(A.select(), A.contact_id).order_by(A.occurred_at.desc(), A.id.desc())
        if contact_id is not None:
            query = query.where(A.contact_id == check_id(contact_id, "contact"))
        if sale_id is not None:
            query = query.where(A.sale == check_id(sale_id, "sales record"))
        if kind is not None:
            if kind not in ACTION_KINDS:
                raise ValidationError(f"kind {kind!r} is not one of {', '.join(ACTION_KINDS)}")
            query = query.where(A.kind == kind)
        if author is not None:
            query = query.where(A.author == author)
        if not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to 100000")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValidationError(f"offset {offset!r} must be a whole number, 0 or more")
        with self.crm.activate():
            return [action_of(row) for row in query.limit(limit).offset(offset)]

"""The mail queue's part of an erasure (see :mod:`crm_core.privacy`).

* A message to the erased person alone is cancelled if it has not been sent
  (status ``cancelled``), and in every case loses its recipients, subject,
  bodies, headers and attachments: what stays is that a message was queued,
  when, its status and Message-ID.
* A message to the person and others goes on to the others; the person
  leaves its recipients and his values leave its texts.
* Any other message that mentions him (a reminder to staff, a report) keeps
  its recipients and loses his values, in texts and attachments.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crm_core import rows as typed_rows
from crm_core.mail.address import from_normalized
from crm_core.privacy import ERASED, Redactor, matching

if TYPE_CHECKING:
    from crm_core.context import AppContext

__all__ = ["CANCELLED_NOTE", "erase_from_queue"]

#: last_error of a message cancelled by an erasure
CANCELLED_NOTE = "cancelled: the recipient's personal data was erased"
_PAGE = 200


def _bare(address: str) -> str:
    try:
        return from_normalized(address).addr.casefold()
    except Exception:  # not an address any more (an earlier erasure): compare as text
        return address.casefold()


def erase_from_queue(crm: AppContext, redactor: Redactor) -> int:
    """Cancel, scrub and redact the queue's messages for one erased person; return how many rows changed."""
    from crm_core.mail.models import MailAttachment, MailMessage

    M = MailMessage
    texts = (M.recipients, M.remaining, M.reply_to, M.subject, M.text_body, M.html_body, M.headers, M.last_error, M.key)
    condition = None
    for column in texts:
        part = matching(column, redactor)
        condition = part if condition is None else condition | part
    count = 0
    last = 0
    while True:
        rows = list(M.select().where(condition & (M.id > last)).order_by(M.id).limit(_PAGE))
        if not rows:
            break
        for row in rows:
            count += _erase_message(row, redactor)
        last = rows[-1].id
    # attachments of messages to other people: a CSV or text file naming him
    last = 0
    while True:
        attachments = list(
            typed_rows.tuples(
                MailAttachment.select(MailAttachment.id, MailAttachment.content)
                .where(MailAttachment.id > last)
                .order_by(MailAttachment.id)
                .limit(_PAGE)
            )
        )
        if not attachments:
            break
        for pk, content in attachments:
            data = bytes(content)
            erased = redactor.bytes(data)
            if erased != data:
                count += MailAttachment.update(content=erased).where(MailAttachment.id == pk).execute()
        last = attachments[-1][0]
    return count


def _erase_message(row: Any, redactor: Redactor) -> int:
    from crm_core.mail.models import MailAttachment, MailMessage

    recipients = json.loads(row.recipients)
    mine = [a for a in recipients if _bare(a) in redactor.addresses]
    others = [a for a in recipients if a not in mine]
    changes: dict[str, Any]
    if mine and not others:
        changes = {
            "recipients": json.dumps([ERASED]),
            "remaining": None,
            "reply_to": None,
            "subject": ERASED,
            "text_body": ERASED,
            "html_body": None,
            "headers": None,
            "attachment_count": 0,
        }
        if row.status in ("queued", "sending", "failed"):
            # a worker holding it ("sending") may hand it over still: its
            # final update needs the status it claimed, and finds this one
            changes.update(status="cancelled", lease_owner=None, lease_until=None, last_error=CANCELLED_NOTE)
        elif row.last_error:
            changes["last_error"] = redactor.text(row.last_error)
        MailAttachment.delete().where(MailAttachment.message == row.id).execute()
    else:
        # others keep their message; the person leaves it, and so do his values
        # (a recipient whose display name holds one keeps his bare address)
        kept = [a if not redactor.found(a) else from_normalized(a).addr for a in others]
        changes = {"recipients": json.dumps(kept, ensure_ascii=False)}
        if row.remaining:
            remaining = [a for a in json.loads(row.remaining) if _bare(a) not in redactor.addresses]
            changes["remaining"] = json.dumps(remaining, ensure_ascii=False) if remaining else None
            if not remaining and row.status in ("queued", "failed"):
                # only the person was still to be delivered: the others have it
                changes.update(status="cancelled", last_error=CANCELLED_NOTE)
        if row.reply_to and redactor.found(row.reply_to):
            changes["reply_to"] = None
        for name in ("subject", "text_body", "html_body", "last_error"):
            value = getattr(row, name)
            if redactor.found(value):
                changes[name] = redactor.text(value)
        if row.headers and redactor.found(row.headers):
            changes["headers"] = json.dumps(redactor.data(json.loads(row.headers)), ensure_ascii=False)
    if redactor.found(row.key):
        # the key is unique: the row's id keeps it so (the message is never queued again under it)
        changes["key"] = f"erased:{row.id}"
    changed: int = MailMessage.update(**changes).where(MailMessage.id == row.id).execute()
    return changed

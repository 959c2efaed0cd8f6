"""What the warehouse does for GDPR requests and contact merges: the personal-data hooks call these.

Export gathers everything held about a contact. Erasure keeps the facts the
business may keep (amounts, stages, dates, scores, who did what when) and
replaces what identifies the person with ``"[erased]"``: the personal fields
in stored event payloads and in the audit trail, the text of notes, the
titles and descriptions of sales records; documents attached to the contact
alone are deleted with their files. This is the one exception to the store
being append-only.

A merge points the warehouse's rows of the merged contact at the survivor
and shows the merged contact's events on the survivor's timeline; undoing it
puts back exactly what was moved.

These run for the kernel's and the contacts plugin's personal-data hooks,
which check the user's right to export, erase or merge the contact before:
they read and write every row about the contact, whoever owns it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import TYPE_CHECKING, Any

from crm_core.clock import naive_utc
from crm_core.storage import batched
from crm_warehouse.catalog import TYPE_KINDS

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["ERASED", "KEPT_FIELDS", "erase", "export", "merged", "unmerged"]

ERASED = "[erased]"
#: contact fields that do not identify a person: kept by an erasure
KEPT_FIELDS = frozenset(
    {
        "kind",
        "status",
        "region",
        "country",
        "owner",
        "language",
        "do_not_contact",
        "organization_id",
        "status_changed_at",
    }
)
#: text fields of the contract's other event types that may identify the person
_TEXT_FIELDS = {
    "TaskCreated": ("title",),
    "SaleClosed": ("lost_reason",),
    "DocumentAttached": ("name",),
}
_BASE_KEYS = {"event_id", "occurred_at", "actor", "channel"}


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# -- export ------------------------------------------------------------------------


def export(crm: CRM, contact_id: int) -> dict[str, Any] | None:
    """Everything the warehouse holds about the contact, JSON-ready; ``None`` if nothing."""
    from crm_warehouse.actions import action_of
    from crm_warehouse.documents import document_of
    from crm_warehouse.models import DocumentRow, SaleRow, StaffActionRow, SurveyResponseRow
    from crm_warehouse.models import EventContactRow as L
    from crm_warehouse.models import EventRow as E
    from crm_warehouse.sales import sale_of

    pipeline = crm.settings("warehouse").pipeline
    with crm.activate():
        sales = [
            _plain(sale_of(row, pipeline).as_row())
            for row in SaleRow.select().where(SaleRow.contact_id == contact_id).order_by(SaleRow.id.desc())
        ]
        actions = [
            _plain(action_of(row).as_row())
            for row in StaffActionRow.select()
            .where(StaffActionRow.contact_id == contact_id)
            .order_by(StaffActionRow.occurred_at.desc(), StaffActionRow.id.desc())
        ]
        documents = [
            _plain(document_of(row).as_row())
            for row in DocumentRow.select()
            .where(DocumentRow.contact_id == contact_id)
            .order_by(DocumentRow.uploaded_at.desc(), DocumentRow.id.desc())
        ]
        responses = [
            {
                "response_id": r.response_id,
                "survey_id": r.survey_id,
                "version": r.version,
                "answered_at": r.answered_at.isoformat(),
                "scores": json.loads(r.scores),
                "negative": r.negative,
            }
            for r in SurveyResponseRow.select()
            .where(SurveyResponseRow.contact_id == contact_id)
            .order_by(SurveyResponseRow.answered_at)
        ]
        events = [
            {
                "type": t,
                "occurred_at": at.isoformat() if hasattr(at, "isoformat") else str(at),
                "actor": actor,
                "channel": channel,
                "payload": json.loads(p),
            }
            for t, at, actor, channel, p in E.select(E.type, E.occurred_at, E.actor, E.channel, E.payload)
            .join(L, on=(L.event == E.id))
            .where((L.contact_id == contact_id) & L.via_contact_id.is_null())
            .order_by(L.occurred_at, L.event)
            .tuples()
            .iterator()
        ]
    if not (sales or actions or documents or responses or events):
        return None
    return {
        "sales": sales,
        "staff_actions": actions,
        "documents": documents,
        "survey_responses": responses,
        "events": events,
    }


# -- erasure -----------------------------------------------------------------------


def _scrub(value: Any) -> Any:
    return value if value is None else ERASED


def _erase_payload(type_name: str, payload: dict[str, Any], contact_id: int) -> dict[str, Any] | None:
    """The payload with the contact's personal fields erased, or ``None`` when nothing changes."""
    out = dict(payload)
    if type_name == "ContactCreated" and payload.get("contact_id") == contact_id:
        out["data"] = {k: (v if k in KEPT_FIELDS else _scrub(v)) for k, v in (payload.get("data") or {}).items()}
    elif type_name == "ContactChanged" and payload.get("contact_id") == contact_id:
        out["changes"] = {
            field: change
            if field in KEPT_FIELDS or not isinstance(change, dict)
            else {"old": _scrub(change.get("old")), "new": _scrub(change.get("new"))}
            for field, change in (payload.get("changes") or {}).items()
        }
    elif type_name == "SaleUpdated":
        out["changes"] = {
            field: {"old": _scrub(change.get("old")), "new": _scrub(change.get("new"))}
            if field in ("title", "description") and isinstance(change, dict) else change
            for field, change in (payload.get("changes") or {}).items()
        }  # fmt: skip
    elif type_name in _TEXT_FIELDS:
        for key in _TEXT_FIELDS[type_name]:
            if out.get(key) is not None:
                out[key] = ERASED
    elif type_name not in TYPE_KINDS:
        # a type the warehouse does not know: any text in it may be personal
        for key, value in payload.items():
            if key not in _BASE_KEYS and isinstance(value, (str, dict, list)):
                out[key] = ERASED
    return out if out != payload else None


def erase(crm: CRM, contact_id: int) -> int:
    """Anonymise what the warehouse holds about the contact; return how many records changed."""
    from crm_warehouse.documents import blob_path, documents_root
    from crm_warehouse.models import (
        BlobRow,
        ContactChangeRow,
        DocumentRow,
        EventContactRow,
        EventRow,
        SaleRow,
        SalesFactRow,
        StaffActionRow,
    )

    database = crm.database
    count: int = 0
    with crm.activate(), database.atomic():
        # stored events concerning the contact
        L = EventContactRow
        rows = list(
            EventRow.select(EventRow.id, EventRow.type, EventRow.payload)
            .join(L, on=(L.event == EventRow.id))
            .where((L.contact_id == contact_id) & L.via_contact_id.is_null())
            .tuples()
            .iterator()
        )
        for pk, type_name, text in rows:
            erased = _erase_payload(type_name, json.loads(text), contact_id)
            if erased is not None:
                EventRow.update(payload=json.dumps(erased, ensure_ascii=False, separators=(",", ":"))).where(
                    EventRow.id == pk
                ).execute()
                count += 1
        # the audit trail's values of personal fields
        count += (
            ContactChangeRow.update(
                old_value=_erased_json(ContactChangeRow.old_value), new_value=_erased_json(ContactChangeRow.new_value)
            )
            .where(
                (ContactChangeRow.contact_id == contact_id)
                & ContactChangeRow.field.is_null(False)
                & ContactChangeRow.field.not_in(sorted(KEPT_FIELDS))
            )
            .execute()
        )
        # notes and the text of sales records; amounts, stages and dates stay
        count += (
            StaffActionRow.update(subject=ERASED, body=ERASED).where(StaffActionRow.contact_id == contact_id).execute()
        )
        sale_ids = [
            s for (s,) in SaleRow.select(SaleRow.id).where(SaleRow.contact_id == contact_id).tuples().iterator()
        ]
        if sale_ids:
            count += SaleRow.update(title=ERASED, description=ERASED).where(SaleRow.id.in_(sale_ids)).execute()
            SaleRow.update(lost_reason=ERASED).where(
                SaleRow.id.in_(sale_ids) & SaleRow.lost_reason.is_null(False)
            ).execute()
            SalesFactRow.update(lost_reason=ERASED).where(
                SalesFactRow.sale_id.in_(sale_ids) & SalesFactRow.lost_reason.is_null(False)
            ).execute()
        # documents attached to the contact alone go, with their files once no other document uses them
        docs = list(
            DocumentRow.select(DocumentRow.id, DocumentRow.blob)
            .where((DocumentRow.contact_id == contact_id) & DocumentRow.sale.is_null())
            .tuples()
            .iterator()
        )
        if docs:
            DocumentRow.delete().where(DocumentRow.id.in_([d for d, _ in docs])).execute()
            count += len(docs)
            shas = sorted({sha for _, sha in docs})
            still_used = {
                s for (s,) in DocumentRow.select(DocumentRow.blob).where(DocumentRow.blob.in_(shas)).tuples().iterator()
            }
            orphans = [s for s in shas if s not in still_used]
            if orphans:
                BlobRow.delete().where(BlobRow.sha256.in_(orphans)).execute()
                root = documents_root(crm)
                paths = [blob_path(root, s) for s in orphans]

                def remove_files() -> None:
                    for path in paths:
                        path.unlink(missing_ok=True)

                # only once the erasure is committed: a rolled-back erasure keeps the files
                database.after_commit(remove_files)
    return count


def _erased_json(column: Any) -> Any:
    """``CASE WHEN column IS NULL THEN NULL ELSE '"[erased]"' END``: erase a JSON value, keep a missing one."""
    from peewee import Case

    return Case(None, [(column.is_null(), None)], json.dumps(ERASED))


# -- merges ------------------------------------------------------------------------


def merged(crm: CRM, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    """Point the merged contact's rows at the survivor; return what moved, by table."""
    from crm_warehouse.models import (
        DocumentRow,
        EventContactRow,
        SaleRow,
        SalesFactRow,
        StaffActionRow,
        SurveyAnswerFactRow,
        SurveyResponseRow,
    )
    from crm_warehouse.summaries.service import Summaries

    moved: dict[str, list[int]] = {}
    # responses move to the survivor: invitations of both contacts may change from answered to not, or back
    with crm.activate(), crm.database.atomic(), Summaries(crm).contacts_moving([survivor_id, merged_id]):
        for model, key, extra in (
            (SaleRow, SaleRow.id, ((SalesFactRow, SalesFactRow.sale_id),)),
            (StaffActionRow, StaffActionRow.id, ()),
            (DocumentRow, DocumentRow.id, ()),
            (
                SurveyResponseRow,
                SurveyResponseRow.response_id,
                ((SurveyAnswerFactRow, SurveyAnswerFactRow.response_id),),
            ),
        ):
            ids = [
                i for (i,) in model.select(key).where(model.contact_id == merged_id).order_by(key).tuples().iterator()
            ]
            if not ids:
                continue
            for chunk in batched(ids, 500):
                model.update(contact_id=survivor_id).where(key.in_(chunk)).execute()
                for other, other_key in extra:
                    other.update(contact_id=survivor_id).where(other_key.in_(chunk)).execute()
            moved[model._meta.table_name] = ids
        # the merged contact's history shows on the survivor's timeline too
        L = EventContactRow
        links = list(
            L.select(L.event, L.occurred_at, L.kind)
            .where((L.contact_id == merged_id) & L.via_contact_id.is_null())
            .tuples()
            .iterator()
        )
        if links:
            from crm_warehouse.store import insert_ignore

            have: set[int] = set()
            for chunk in batched([e for e, _, _ in links], 500):
                have.update(
                    e
                    for (e,) in L.select(L.event)
                    .where((L.contact_id == survivor_id) & L.event.in_(chunk))
                    .tuples()
                    .iterator()
                )
            added = [(survivor_id, naive_utc(at), e, kind, merged_id) for e, at, kind in links if e not in have]
            insert_ignore(
                crm.database,
                L._meta.table_name,
                ("contact_id", "occurred_at", "event_id", "kind", "via_contact_id"),
                added,
            )
            if added:
                moved[L._meta.table_name] = [row[2] for row in added]
    return moved


def unmerged(crm: CRM, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    """Undo :func:`merged`: exactly the rows it moved go back to the merged contact."""
    from crm_warehouse.models import (
        DocumentRow,
        EventContactRow,
        SaleRow,
        SalesFactRow,
        StaffActionRow,
        SurveyAnswerFactRow,
        SurveyResponseRow,
    )

    # the rows merged() moved: each table's model, its key, and the reporting tables keyed by it
    tables: dict[str, tuple[type[SaleRow | StaffActionRow | DocumentRow | SurveyResponseRow], Any, tuple[tuple[type[SalesFactRow | SurveyAnswerFactRow], Any], ...]]] = {
        SaleRow._meta.table_name: (SaleRow, SaleRow.id, ((SalesFactRow, SalesFactRow.sale_id),)),
        StaffActionRow._meta.table_name: (StaffActionRow, StaffActionRow.id, ()),
        DocumentRow._meta.table_name: (DocumentRow, DocumentRow.id, ()),
        SurveyResponseRow._meta.table_name: (
            SurveyResponseRow, SurveyResponseRow.response_id, ((SurveyAnswerFactRow, SurveyAnswerFactRow.response_id),),
        ),
    }  # fmt: skip
    from crm_warehouse.summaries.service import Summaries

    with crm.activate(), crm.database.atomic(), Summaries(crm).contacts_moving([survivor_id, merged_id]):
        for table, ids in (moved or {}).items():
            ids = [int(i) for i in ids]
            if table == EventContactRow._meta.table_name:
                L = EventContactRow
                for chunk in batched(ids, 500):
                    L.delete().where(
                        (L.contact_id == survivor_id) & (L.via_contact_id == merged_id) & L.event.in_(chunk)
                    ).execute()
                continue
            if table not in tables:
                continue  # written by a newer version of the plugin: nothing this one can undo
            model, key, extra = tables[table]
            for chunk in batched(ids, 500):
                model.update(contact_id=merged_id).where(key.in_(chunk) & (model.contact_id == survivor_id)).execute()
                for other, other_key in extra:
                    other.update(contact_id=merged_id).where(
                        other_key.in_(chunk) & (other.contact_id == survivor_id)
                    ).execute()

"""More of the contacts plugin over HTTP: unmerge, tags, the self-service review queue, personal data and erasure,
lists and segments as records.

What ``crm contacts unmerge|tag|updates|export-personal-data|erase|lists|segments`` do, so that an integration
can do from ``curl`` what the CLI does. Every handler calls ``crm.plugin("contacts")``, which checks the
permissions and the record scope (an out-of-scope contact answers 404).
"""

from __future__ import annotations

from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]

_MAX_ID = 2**63 - 1
_REVIEW_STATES = ("pending", "approved", "rejected", "all")


@attrs.frozen
class Unmerged:
    """A merge undone: the merge's id and the contact that came back."""

    merge_id: int
    contact_id: int


@attrs.frozen
class TagInput:
    """Tags to add and to remove, on every contact of ``contact_ids`` (all or none: each needs ``contacts.edit``)."""

    contact_ids: list[int] = attrs.field(
        metadata={
            "schema": {"minItems": 1, "maxItems": 10000, "items": {"type": "integer", "minimum": 1, "maximum": _MAX_ID}}
        }
    )
    add: list[str] = attrs.field(factory=list)
    remove: list[str] = attrs.field(factory=list)


@attrs.frozen
class Tagged:
    """How many contacts changed."""

    changed: int


@attrs.frozen
class ReviewInput:
    """A note on the decision (a rejection needs one: the reason)."""

    note: str = attrs.field(default="", metadata={"schema": {"maxLength": 500}})


@attrs.frozen
class ListInput:
    """A new static mailing list."""

    name: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 100, "pattern": r"\S"}})
    description: str = ""


@attrs.frozen
class SegmentInput:
    """A new segment: a saved search, its members found anew each time (the filters of ``GET /contacts``)."""

    name: str = attrs.field(metadata={"schema": {"minLength": 1, "maxLength": 100, "pattern": r"\S"}})
    filters: dict[str, Any] = attrs.field(factory=dict)
    description: str = ""


@attrs.frozen
class Erased:
    """What the erasure removed: rows per table or plugin."""

    erased: dict[str, int]


def _contacts(crm: Any) -> Any:
    return crm.plugin("contacts")


def _ids(body: dict[str, Any]) -> list[int]:
    ids = body.get("contact_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError("contact_ids must be a list of contact ids")
    return ids


def _texts(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{name} must be a list of tags (texts)")
    return value


def _tag(crm: Any, request: ApiRequest) -> Tagged:
    body = request.body
    add, remove = _texts(body, "add"), _texts(body, "remove")
    if not add and not remove:
        raise ValidationError("give the tags to add, to remove, or both")
    return Tagged(_contacts(crm).tag(_ids(body), add, remove, channel="api"))


def _unmerge(crm: Any, request: ApiRequest) -> Unmerged:
    return Unmerged(_contacts(crm).unmerge(request.path["id"], channel="api"), request.path["id"])


def _updates(crm: Any, request: ApiRequest) -> ApiPage:
    status = request.query.get("status", "pending")
    contact_id = int(request.query["contact_id"]) if "contact_id" in request.query else None
    found = list(_contacts(crm).pending_updates(status, contact_id))
    offset = request.cursor or 0
    page = found[offset : offset + request.limit]
    more = offset + len(page) < len(found)
    return ApiPage(items=page, next=offset + len(page) if more else None, total=len(found))


def _approve(crm: Any, request: ApiRequest) -> Any:
    return _contacts(crm).approve_update(request.path["id"], note=(request.body or {}).get("note", ""))


def _reject(crm: Any, request: ApiRequest) -> Any:
    note = (request.body or {}).get("note", "")
    if not isinstance(note, str) or not note.strip():
        raise ValidationError("note: say why the change is rejected (the customer's update is not applied)")
    return _contacts(crm).reject_update(request.path["id"], note=note)


def _personal_data(crm: Any, request: ApiRequest) -> Any:
    return _contacts(crm).export_personal_data(request.path["id"])


def _erase(crm: Any, request: ApiRequest) -> Erased:
    return Erased(dict(_contacts(crm).erase(request.path["id"], channel="api")))


def _create_list(crm: Any, request: ApiRequest) -> Any:
    body = request.body
    return _contacts(crm).create_list(body["name"], body.get("description", ""))


def _delete_list(crm: Any, request: ApiRequest) -> None:
    _contacts(crm).delete_list(request.path["name"])


def _segments(crm: Any, request: ApiRequest) -> ApiPage:
    found = list(_contacts(crm).segments())
    return ApiPage(items=found, next=None, total=len(found))


def _create_segment(crm: Any, request: ApiRequest) -> Any:
    body = request.body
    if not isinstance(body.get("filters"), dict) or not body["filters"]:
        raise ValidationError("filters: a segment needs at least one filter of GET /contacts (status, region, tag…)")
    return _contacts(crm).create_segment(body["name"], body["filters"], body.get("description", ""))


def _segment(crm: Any, request: ApiRequest) -> Any:
    return _contacts(crm).segment(request.path["name"])


def _delete_segment(crm: Any, request: ApiRequest) -> None:
    _contacts(crm).delete_segment(request.path["name"])


def _segment_members(crm: Any, request: ApiRequest) -> ApiPage:
    contacts = _contacts(crm)
    segment = contacts.segment(request.path["name"])
    offset = request.cursor or 0
    found = contacts.search(limit=request.limit, offset=offset, count=request.count, **segment.filters)
    more = found.after is not None or offset + len(found.cards) < found.total
    return ApiPage(
        items=list(found.cards),
        next=offset + len(found.cards) if more and found.cards else None,
        total=found.total if request.count else None,
    )


def resources(crm: Any) -> list[ApiResource]:
    from crm_contacts.lists import ListInfo, SegmentInfo
    from crm_contacts.selfservice import PendingChange
    from crm_hookspecs.records import ContactCard

    people = ApiResource(
        "contact-care",
        "Undoing merges, tagging many contacts at once, the customers' own updates waiting for review, "
        "and a person's data (the GDPR's access and erasure).",
        [
            ApiOperation(
                "POST",
                "/contacts/{id:int}/unmerge",
                _unmerge,
                "contacts.unmerge",
                summary="Undo the merge that folded this contact into another (it comes back as it was)",
                returns=Unmerged,
                permission="contacts.merge",
            ),
            ApiOperation(
                "POST",
                "/contacts/tags",
                _tag,
                "contacts.tag",
                summary="Add and remove tags on many contacts",
                returns=Tagged,
                body=TagInput,
                permission="contacts.edit",
            ),
            ApiOperation(
                "GET",
                "/updates",
                _updates,
                "contacts.updates",
                summary="Changes customers sent through their update links, waiting for review (or decided)",
                returns=PendingChange,
                paginated=True,
                filters=[
                    ApiParam("status", "pending (the default), approved, rejected or all.", enum=_REVIEW_STATES),
                    ApiParam("contact_id", "Only this contact's.", "integer", minimum=1, maximum=_MAX_ID),
                ],
                permission="contacts.updates.review",
            ),
            ApiOperation(
                "POST",
                "/updates/{id:int}/approve",
                _approve,
                "contacts.approve_update",
                summary="Apply a customer's change to the contact",
                returns=PendingChange,
                body=ReviewInput,
                permission="contacts.updates.review",
            ),
            ApiOperation(
                "POST",
                "/updates/{id:int}/reject",
                _reject,
                "contacts.reject_update",
                summary="Refuse a customer's change, saying why",
                returns=PendingChange,
                body=ReviewInput,
                permission="contacts.updates.review",
            ),
            ApiOperation(
                "GET",
                "/contacts/{id:int}/personal-data",
                _personal_data,
                "contacts.personal_data",
                summary="Everything every enabled plugin holds about the person (GDPR article 15)",
                permission="contacts.export",
            ),
            ApiOperation(
                "POST",
                "/contacts/{id:int}/erase",
                _erase,
                "contacts.erase",
                summary="Erase the person's data everywhere (GDPR article 17); it cannot be undone",
                returns=Erased,
                permission="contacts.erase",
            ),
        ],
    )
    lists = ApiResource(
        "lists-and-segments",
        "Creating and removing mailing lists, and segments: saved searches whose members are found anew.",
        [
            ApiOperation(
                "POST",
                "/lists",
                _create_list,
                "contacts.create_list",
                summary="Make a static mailing list",
                returns=ListInfo,
                body=ListInput,
                status=201,
                permission="contacts.lists.edit",
            ),
            ApiOperation(
                "DELETE",
                "/lists/{name}",
                _delete_list,
                "contacts.delete_list",
                summary="Remove a mailing list (its members stay in the address book)",
                permission="contacts.lists.edit",
            ),
            ApiOperation(
                "GET",
                "/segments",
                _segments,
                "contacts.segments",
                summary="The segments",
                returns=SegmentInfo,
                paginated=True,
                permission="contacts.lists.read",
            ),
            ApiOperation(
                "POST",
                "/segments",
                _create_segment,
                "contacts.create_segment",
                summary="Save a search as a segment",
                returns=SegmentInfo,
                body=SegmentInput,
                status=201,
                permission="contacts.lists.edit",
            ),
            ApiOperation(
                "GET",
                "/segments/{name}",
                _segment,
                "contacts.segment",
                summary="A segment and its filters",
                returns=SegmentInfo,
                permission="contacts.lists.read",
            ),
            ApiOperation(
                "DELETE",
                "/segments/{name}",
                _delete_segment,
                "contacts.delete_segment",
                summary="Remove a segment",
                permission="contacts.lists.edit",
            ),
            ApiOperation(
                "GET",
                "/segments/{name}/members",
                _segment_members,
                "contacts.segment_members",
                summary="The contacts a segment finds now (of those the caller may read)",
                returns=ContactCard,
                paginated=True,
                permission="contacts.lists.read",
            ),
        ],
    )
    return [people, lists]

"""The warehouse's resources in the HTTP API (``crm_api_resources``).

Sales records (requests for proposal and quotation, quotes, sales) and
their stages, staff actions (notes, calls, meetings, e-mails), documents
(uploaded and downloaded as files), a contact's timeline and the contact as
it was on a date. Every handler calls ``crm.plugin("warehouse")``, which
checks the permissions and scopes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiFile, ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]

_MAX_ID = 2**63 - 1
_ID = {"minimum": 1, "maximum": _MAX_ID}


@attrs.frozen
class SaleInput:
    """A new sales record. ``kind`` is ``rfp``, ``rfq``, ``quote`` or ``sale`` (see the pipeline settings);
    ``amount`` a decimal string; without an owner the record is the caller's."""

    kind: str = attrs.field(metadata={"schema": {"minLength": 1}})
    contact_id: int = attrs.field(metadata={"schema": _ID})
    title: str = ""
    amount: str = attrs.field(default="0", metadata={"schema": {"pattern": r"^-?\d{1,13}(\.\d{1,2})?$"}})
    currency: str | None = attrs.field(default=None, metadata={"schema": {"pattern": "^[A-Z]{3}$"}})
    owner: str | None = None
    region: str | None = None
    product_line: str | None = None
    stage: str | None = None
    expected_close_on: str | None = attrs.field(default=None, metadata={"schema": {"format": "date"}})
    description: str = ""


@attrs.frozen
class SaleChange:
    """Changes to a sales record: details, or a new ``stage`` (closing stages close it; ``lost_reason`` for lost)."""

    title: str | None = None
    amount: str | None = attrs.field(default=None, metadata={"schema": {"pattern": r"^-?\d{1,13}(\.\d{1,2})?$"}})
    currency: str | None = attrs.field(default=None, metadata={"schema": {"pattern": "^[A-Z]{3}$"}})
    owner: str | None = None
    region: str | None = None
    product_line: str | None = None
    expected_close_on: str | None = attrs.field(default=None, metadata={"schema": {"format": "date"}})
    description: str | None = None
    stage: str | None = None
    reopen: bool = False
    lost_reason: str | None = None


@attrs.frozen
class ActionInput:
    """A note, call, meeting or e-mail about a contact, a sale or both; ``occurred_at`` defaults to now."""

    kind: str = attrs.field(metadata={"schema": {"enum": ["note", "call", "meeting", "email"]}})
    contact_id: int | None = attrs.field(default=None, metadata={"schema": _ID})
    sale_id: int | None = attrs.field(default=None, metadata={"schema": _ID})
    subject: str = ""
    body: str = ""
    occurred_at: dt.datetime | None = None


_SALE_DETAILS = frozenset(
    ("title", "amount", "currency", "owner", "region", "product_line", "expected_close_on", "description")
)


def _warehouse(crm: Any) -> Any:
    return crm.plugin("warehouse")


def _int(query: dict[str, str], name: str) -> int | None:
    return int(query[name]) if name in query else None


def _sales(crm: Any, request: ApiRequest) -> ApiPage:
    query = request.query
    filters = {
        "kind": query.get("kind"),
        "stage": query.get("stage"),
        "outcome": query.get("outcome"),
        "owner": query.get("owner"),
        "region": query.get("region"),
        "contact_id": _int(query, "contact_id"),
    }
    sales = _warehouse(crm).sales
    items = sales.list(limit=request.limit, before_id=request.cursor, **filters)
    total = sales.count(**filters) if request.count else None
    return ApiPage(items=items, next=items[-1].id if len(items) == request.limit else None, total=total)


def _add_sale(crm: Any, request: ApiRequest) -> Any:
    body = dict(request.body)
    kind, contact_id = body.pop("kind", None), body.pop("contact_id", None)
    if not isinstance(kind, str) or not isinstance(contact_id, int) or isinstance(contact_id, bool):
        raise ValidationError("kind (rfp, rfq, quote, sale) and contact_id are required")
    return _warehouse(crm).sales.add(kind, contact_id, channel="api", **body)


def _change_sale(crm: Any, request: ApiRequest) -> Any:
    body = dict(request.body)
    sales, sale_id = _warehouse(crm).sales, request.path["id"]
    details = {k: v for k, v in body.items() if k in _SALE_DETAILS}
    record = sales.update(sale_id, channel="api", **details) if details else sales.get(sale_id)
    stage = body.get("stage")
    if stage is not None:
        pipeline = sales.pipeline
        if stage in (pipeline.won_stage, pipeline.lost_stage):
            record = sales.close(
                sale_id, won=stage == pipeline.won_stage, lost_reason=body.get("lost_reason"), channel="api"
            )
        else:
            record = sales.move(sale_id, stage, reopen=bool(body.get("reopen")), channel="api")
    return record


def _actions(crm: Any, request: ApiRequest) -> ApiPage:
    query = request.query
    offset = request.cursor or 0
    items = _warehouse(crm).actions.list(
        contact_id=_int(query, "contact_id"),
        sale_id=_int(query, "sale_id"),
        kind=query.get("kind"),
        author=query.get("author"),
        limit=request.limit,
        offset=offset,
    )
    return ApiPage(items=items, next=offset + len(items) if len(items) == request.limit else None)


def _log(crm: Any, request: ApiRequest) -> Any:
    body = dict(request.body)
    kind = body.pop("kind", None)
    if not isinstance(kind, str):
        raise ValidationError("kind is required: note, call, meeting or email")
    when = body.pop("occurred_at", None)
    if when is not None:
        try:
            when = dt.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"occurred_at {when!r} is not a time; write it as 2026-11-01T10:00:00Z") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    return _warehouse(crm).actions.log(kind, occurred_at=when, channel="api", **body)


def _documents(crm: Any, request: ApiRequest) -> ApiPage:
    query = request.query
    offset = request.cursor or 0
    items = _warehouse(crm).documents.list(
        contact_id=_int(query, "contact_id"), sale_id=_int(query, "sale_id"), limit=request.limit, offset=offset
    )
    return ApiPage(items=items, next=offset + len(items) if len(items) == request.limit else None)


def _upload(crm: Any, request: ApiRequest) -> Any:
    import io

    query = request.query
    name = query.get("name")
    if not name:
        raise ValidationError("?name= is required: the file's name (brochure.pdf)")
    if "contact_id" not in query and "sale_id" not in query:
        raise ValidationError("attach the file to a contact (?contact_id=) or a sales record (?sale_id=), or both")
    return _warehouse(crm).documents.attach(
        io.BytesIO(request.data),
        contact_id=_int(query, "contact_id"),
        sale_id=_int(query, "sale_id"),
        name=name,
        content_type=request.content_type,
        description=query.get("description", ""),
        channel="api",
    )


def _download(crm: Any, request: ApiRequest) -> ApiFile:
    documents = _warehouse(crm).documents
    document = documents.get(request.path["id"])
    return ApiFile(document.name, document.content_type, documents.read_bytes(document.id))


def _timeline(crm: Any, request: ApiRequest) -> ApiPage:
    kinds = [k.strip() for k in request.query.get("kinds", "").split(",") if k.strip()] or None
    # the cursor is the last entry's time and event id, so that entries at the same instant are not skipped
    # (a cursor of the time alone, as earlier pages gave, still reads: the older entries only)
    cursor = request.cursor
    before, event = (cursor[0], cursor[1]) if isinstance(cursor, list) and len(cursor) == 2 else (cursor, None)
    entries = _warehouse(crm).timeline(
        request.path["id"],
        kinds=kinds,
        limit=request.limit,
        before=dt.datetime.fromisoformat(before) if before else None,
        before_event=event,
    )
    last = entries[-1] if entries and len(entries) == request.limit else None
    return ApiPage(items=entries, next=[last.occurred_at.isoformat(), last.event_id] if last else None)


def _as_of(crm: Any, request: ApiRequest) -> dict[str, Any]:
    text = request.query.get("date")
    if not text:
        raise ValidationError("?date= is required: the day (YYYY-MM-DD) or time (RFC 3339) to see the contact as of")
    try:
        when: dt.date | dt.datetime = dt.date.fromisoformat(text)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"?date={text!r} is neither a date (YYYY-MM-DD) nor a time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    return _warehouse(crm).contact_as_of(request.path["id"], when)


def resources(crm: Any) -> list[ApiResource]:
    from crm_hookspecs.records import TimelineEntry
    from crm_warehouse import rest_pipeline
    from crm_warehouse.actions import StaffAction
    from crm_warehouse.documents import Document
    from crm_warehouse.sales import Sale, StageMove

    sale_filters = [
        ApiParam("kind", "rfp, rfq, quote or sale."),
        ApiParam("stage", "In this pipeline stage."),
        ApiParam("outcome", "open, won or lost.", enum=("open", "won", "lost")),
        ApiParam("owner", "Owned by this user."),
        ApiParam("region", "In this sales region."),
        ApiParam("contact_id", "Of this contact.", "integer", minimum=1, maximum=_MAX_ID),
    ]
    on = [
        ApiParam("contact_id", "About this contact.", "integer", minimum=1, maximum=_MAX_ID),
        ApiParam("sale_id", "About this sales record.", "integer", minimum=1, maximum=_MAX_ID),
    ]
    return [
        ApiResource(
            "sales",
            "Sales records: requests for proposal and quotation, quotes and sales, through the pipeline's stages.",
            [
                ApiOperation(
                    "GET",
                    "/sales",
                    _sales,
                    "warehouse.sales.list",
                    summary="Sales records, newest first",
                    returns=Sale,
                    paginated=True,
                    filters=sale_filters,
                    permission="warehouse.sales.read",
                ),
                ApiOperation(
                    "POST",
                    "/sales",
                    _add_sale,
                    "warehouse.sales.create",
                    summary="Record a request, quote or sale",
                    returns=Sale,
                    body=SaleInput,
                    status=201,
                    location="warehouse.sales.get",
                    permission="warehouse.sales.create",
                ),
                ApiOperation(
                    "GET",
                    "/sales/{id:int}",
                    lambda crm, r: _warehouse(crm).sales.get(r.path["id"]),
                    "warehouse.sales.get",
                    summary="A sales record",
                    returns=Sale,
                    permission="warehouse.sales.read",
                ),
                ApiOperation(
                    "PATCH",
                    "/sales/{id:int}",
                    _change_sale,
                    "warehouse.sales.update",
                    summary="Change a record's details, or move it to another stage (won and lost close it)",
                    returns=Sale,
                    body=SaleChange,
                    etag_from="warehouse.sales.get",
                    permission="warehouse.sales.edit",
                ),
                ApiOperation(
                    "GET",
                    "/sales/{id:int}/moves",
                    lambda crm, r: ApiPage(_warehouse(crm).sales.moves(r.path["id"])),
                    "warehouse.sales.moves",
                    summary="A record's stage moves, oldest first",
                    returns=StageMove,
                    paginated=True,
                    permission="warehouse.sales.read",
                ),
            ],
        ),
        ApiResource(
            "actions",
            "Staff actions: notes, calls, meetings and e-mails logged against contacts and sales.",
            [
                ApiOperation(
                    "GET",
                    "/actions",
                    _actions,
                    "warehouse.actions.list",
                    summary="Staff actions, most recent first",
                    returns=StaffAction,
                    paginated=True,
                    filters=[
                        *on,
                        ApiParam("kind", "note, call, meeting or email.", enum=("note", "call", "meeting", "email")),
                        ApiParam("author", "Logged by this user."),
                    ],
                    permission="warehouse.actions.read",
                ),
                ApiOperation(
                    "POST",
                    "/actions",
                    _log,
                    "warehouse.actions.create",
                    summary="Log a note, call, meeting or e-mail",
                    returns=StaffAction,
                    body=ActionInput,
                    status=201,
                    location="warehouse.actions.get",
                    permission="warehouse.actions.create",
                ),
                ApiOperation(
                    "GET",
                    "/actions/{id:int}",
                    lambda crm, r: _warehouse(crm).actions.get(r.path["id"]),
                    "warehouse.actions.get",
                    summary="A staff action",
                    returns=StaffAction,
                    permission="warehouse.actions.read",
                ),
            ],
        ),
        ApiResource(
            "documents",
            "Documents and presentations attached to contacts and sales (the same content is stored once).",
            [
                ApiOperation(
                    "GET",
                    "/documents",
                    _documents,
                    "warehouse.documents.list",
                    summary="Documents, newest first",
                    returns=Document,
                    paginated=True,
                    filters=on,
                    permission="warehouse.documents.read",
                ),
                ApiOperation(
                    "POST",
                    "/documents",
                    _upload,
                    "warehouse.documents.create",
                    summary="Upload a file: the body is its content, its Content-Type its type",
                    returns=Document,
                    body="binary",
                    status=201,
                    location="warehouse.documents.get",
                    filters=[
                        *on,
                        ApiParam("name", "The file's name (brochure.pdf).", pattern=r"\S"),
                        ApiParam("description", "What it is."),
                    ],
                    permission="warehouse.documents.create",
                ),
                ApiOperation(
                    "GET",
                    "/documents/{id:int}",
                    lambda crm, r: _warehouse(crm).documents.get(r.path["id"]),
                    "warehouse.documents.get",
                    summary="A document's details",
                    returns=Document,
                    permission="warehouse.documents.read",
                ),
                ApiOperation(
                    "GET",
                    "/documents/{id:int}/content",
                    _download,
                    "warehouse.documents.content",
                    summary="Download a document",
                    returns=ApiFile,
                    permission="warehouse.documents.read",
                ),
            ],
        ),
        ApiResource(
            "history",
            "What happened to and around a contact, and the contact as it was on a date.",
            [
                ApiOperation(
                    "GET",
                    "/contacts/{id:int}/timeline",
                    _timeline,
                    "warehouse.timeline",
                    summary="A contact's timeline, newest first",
                    returns=TimelineEntry,
                    paginated=True,
                    filters=[ApiParam("kinds", "Only these kinds of entry, comma-separated.")],
                    permission="warehouse.history.read",
                ),
                ApiOperation(
                    "GET",
                    "/contacts/{id:int}/as-of",
                    _as_of,
                    "warehouse.as_of",
                    summary="The contact's fields as they were on a date",
                    filters=[ApiParam("date", "A day (YYYY-MM-DD) or a time (RFC 3339).")],
                    permission="warehouse.history.read",
                ),
            ],
        ),
        *rest_pipeline.resources(crm),
    ]

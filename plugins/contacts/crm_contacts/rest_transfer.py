"""Imports and exports over HTTP (added to the contacts plugin's resources by :func:`crm_contacts.rest.resources`).

``GET /contacts/export`` downloads the contacts the caller may export as CSV
or vCard, with the contacts list's filters. ``POST /imports`` takes a CSV or
vCard file as the body, with ``crm contacts import``'s options as query
parameters, and answers ``202`` with the queued import (``Location``): the
worker imports it as the caller; ``GET /imports/{id}`` follows its progress
and report, ``GET /imports/{id}/problems`` downloads the rows to fix. Every
handler calls ``crm.plugin("contacts")``.
"""

from __future__ import annotations

import io
import json
from typing import Any

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiFile, ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]

CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/vnd.ms-excel")
VCARD_TYPES = ("text/vcard", "text/x-vcard", "text/directory")
ACCEPTS = (*CSV_TYPES, *VCARD_TYPES, "application/octet-stream")


class UnsupportedMediaType(ValidationError):
    """The body's Content-Type is not one an import takes."""

    code = "unsupported_media_type"
    http_status = 415


def _contacts(crm: Any) -> Any:
    return crm.plugin("contacts")


def _export(crm: Any, request: ApiRequest) -> ApiFile:
    query = dict(request.query)
    fmt = query.pop("format", "csv")
    version = query.pop("version", "4.0")
    include_deleted = query.pop("include_deleted", "false").lower() in ("true", "1", "yes")
    filters: dict[str, Any] = dict(query)
    if "organization_id" in filters:
        filters["organization_id"] = int(filters["organization_id"])
    if "do_not_contact" in filters:
        filters["do_not_contact"] = filters["do_not_contact"].lower() in ("true", "1", "yes")
    out = io.StringIO()
    contacts = _contacts(crm)
    if fmt == "vcard":
        contacts.export_vcard(out, filters, version=version, include_deleted=include_deleted)
        return ApiFile("contacts.vcf", "text/vcard; charset=utf-8", out.getvalue().encode("utf-8"))
    contacts.export_csv(out, filters, include_deleted=include_deleted)
    return ApiFile("contacts.csv", "text/csv; charset=utf-8", out.getvalue().encode("utf-8"))


def _format(request: ApiRequest) -> str:
    """The file's format: ``?format=``, else its Content-Type, else its name's extension (CSV by default)."""
    media = request.content_type.lower()
    if media not in ACCEPTS:
        raise UnsupportedMediaType(
            f"Content-Type {media!r} is not a file an import takes; send a CSV file as text/csv "
            "or a vCard file as text/vcard"
        )
    given = request.query.get("format")
    by_type = "vcard" if media in VCARD_TYPES else "csv" if media in CSV_TYPES else None
    if given and by_type and given != by_type:
        raise UnsupportedMediaType(f"?format={given} but the body is {media}; send the one the file is")
    if given:
        return given
    name = request.query.get("name", "").lower()
    return by_type or ("vcard" if name.endswith((".vcf", ".vcard")) else "csv")


def _submit(crm: Any, request: ApiRequest) -> Any:
    query = request.query
    fmt = _format(request)
    options: dict[str, Any] = {}
    for key in ("dry_run", "all_or_nothing"):
        if key in query:
            options[key] = query[key].lower() in ("true", "1", "yes")
    for key, option in (("on_conflict", "on_conflict"), ("list", "list_name"), ("encoding", "encoding")):
        if key in query:
            options[option] = query[key]
    if "delimiter" in query:
        options["delimiter"] = "\t" if query["delimiter"] in ("tab", "\\t") else query["delimiter"]
    if "match" in query:
        options["match_on"] = [k.strip() for k in query["match"].split(",") if k.strip()]
    if "ignore_columns" in query:
        options["ignore_columns"] = [c.strip() for c in query["ignore_columns"].split(",") if c.strip()]
    if "start_line" in query:
        options["start_line"] = int(query["start_line"])
    if "mapping" in query:
        try:
            options["mapping"] = json.loads(query["mapping"])
        except ValueError:
            raise ValidationError(
                '?mapping= must be a JSON object of CSV headers to fields: {"E-mail":"email","Surname":"last_name"}'
            ) from None
    name = query.get("name") or ("contacts.vcf" if fmt == "vcard" else "contacts.csv")
    return _contacts(crm).submit_import(request.data, name=name, fmt=fmt, options=options)


def _imports(crm: Any, request: ApiRequest) -> ApiPage:
    offset = request.cursor or 0
    items = _contacts(crm).import_runs(limit=request.limit, offset=offset)
    return ApiPage(items=items, next=offset + len(items) if len(items) == request.limit else None)


def _problems(crm: Any, request: ApiRequest) -> ApiFile:
    name, data = _contacts(crm).import_problems(request.path["id"])
    return ApiFile(name, "text/csv; charset=utf-8", data)


def _export_filters(filters: list[ApiParam]) -> list[ApiParam]:
    return [
        ApiParam("format", "csv (default) or vcard.", enum=("csv", "vcard")),
        ApiParam("version", "The vCard version: 4.0 (default) or 3.0.", enum=("3.0", "4.0")),
        *[f for f in filters if f.name != "q"],
    ]


def resources(crm: Any, contact_filters: list[ApiParam]) -> list[ApiResource]:
    """The imports resource, and the export operation (with the contacts list's ``contact_filters``)."""
    from crm_contacts.imports import ImportRecord

    export = ApiOperation(
        "GET",
        "/contacts/export",
        _export,
        "contacts.export",
        summary="Download the contacts you may export, as CSV or vCard, with the list's filters",
        description="The CSV has the layout `crm contacts export` writes, which an import reads back.",
        returns=ApiFile,
        filters=_export_filters(contact_filters),
        produces=("text/csv", "text/vcard"),
        permission="contacts.export",
    )
    imports = ApiResource(
        "imports",
        "Contacts imported from CSV and vCard files: posted, run by the worker as the poster, followed to the end.",
        [
            ApiOperation(
                "POST",
                "/imports",
                _submit,
                "contacts.imports.create",
                summary="Import a CSV or vCard file (the body); the worker runs it, follow it at Location",
                description="The options are `crm contacts import`'s. A dry run (`dry_run=true`) reports what would "
                "happen and writes nothing. The body is at most the API's body limit (`max_body_kb`).",
                returns=ImportRecord,
                body="binary",
                accepts=ACCEPTS,
                status=202,
                location="contacts.imports.get",
                filters=[
                    ApiParam(
                        "format", "csv or vcard [default: by Content-Type, then by ?name=].", enum=("csv", "vcard")
                    ),
                    ApiParam("name", "The file's name (contacts.csv), shown in reports.", pattern=r"\S"),
                    ApiParam(
                        "dry_run", "Check and match every row, report what would happen, write nothing.", "boolean"
                    ),
                    ApiParam("all_or_nothing", "Write nothing if any row is bad.", "boolean"),
                    ApiParam(
                        "match",
                        "Keys that find an existing contact, comma-separated (id,external_id,email).",
                        pattern=r"^(id|external_id|email|phone)(,(id|external_id|email|phone))*$",
                    ),
                    ApiParam(
                        "on_conflict",
                        "A row whose match has another name or kind: skip it or update anyway.",
                        enum=("skip", "update"),
                    ),
                    ApiParam("list", "Also add every imported contact to this mailing list.", pattern=r"\S"),
                    ApiParam("encoding", "The file's encoding [default: utf-8, with or without BOM].", pattern=r"\S"),
                    ApiParam(
                        "delimiter", "CSV delimiter (one character, or tab) [default: guessed].", pattern=r"^(.|tab)$"
                    ),
                    ApiParam(
                        "start_line",
                        "Skip the rows before this line (to finish a stopped import).",
                        "integer",
                        minimum=1,
                        maximum=2**31 - 1,
                    ),
                    ApiParam("mapping", 'CSV headers to fields, as a JSON object: {"E-mail":"email"}.', pattern=r"\S"),
                    ApiParam(
                        "ignore_columns", "CSV columns not to keep as custom fields, comma-separated.", pattern=r"\S"
                    ),
                ],
                permission="contacts.import",
            ),
            ApiOperation(
                "GET",
                "/imports",
                _imports,
                "contacts.imports.list",
                summary="Your imports, newest first",
                returns=ImportRecord,
                paginated=True,
                permission="contacts.import",
            ),
            ApiOperation(
                "GET",
                "/imports/{id:int}",
                lambda crm, r: _contacts(crm).import_run(r.path["id"]),
                "contacts.imports.get",
                summary="An import: its status, progress, counts and report",
                returns=ImportRecord,
                permission="contacts.import",
            ),
            ApiOperation(
                "GET",
                "/imports/{id:int}/problems",
                _problems,
                "contacts.imports.problems",
                summary="Download every row with an error, warning or conflict, as CSV to fix and import again",
                returns=ApiFile,
                produces=("text/csv",),
                permission="contacts.import",
            ),
        ],
    )
    exports = ApiResource(
        "exports", "The address book as a file: CSV or vCard, in the caller's export scope.", [export]
    )
    return [imports, exports]

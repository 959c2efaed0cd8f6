"""The OpenAPI 3.1 document, generated from the resources and their attrs records.

Each record class becomes a schema under ``components/schemas`` named after
the class; its fields' annotations give the JSON Schema types (``datetime``
-> ``string``/``date-time``, ``Decimal`` -> a decimal ``string``, ``X |
None`` -> ``[X, null]``, ``list[X]``, ``dict[str, X]``, nested records by
``$ref``). Errors are ``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from crm_hookspecs.records import ApiFile, ApiOperation, ApiResource

__all__ = ["MAX_ID", "PROBLEM", "build_document", "path_template", "schema_of"]

#: the error body every failing request gets
PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "An error, as RFC 9457 describes (application/problem+json).",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of error ('about:blank' for most)."},
        "title": {"type": "string", "description": "The HTTP status's phrase."},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and how to fix it, for people."},
        "code": {"type": "string", "description": "A stable code for programs (from the CRMError family)."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["message"],
            },
        },
    },
}

_ERROR_STATUSES = {
    "400": "The request is malformed (a bad cursor, query parameter or JSON body).",
    "401": "No API token, or one that is unknown, revoked, expired or of a disabled user.",
    "403": "The token's user (or the token's scopes) lacks the permission.",
    "404": "No such record, or one outside the caller's scope.",
    "409": "The change conflicts with the data (a duplicate, or a request with this Idempotency-Key still running).",
    "412": "If-Match names an older version of the record.",
    "413": "The body is over the size limit.",
    "422": "A value is invalid; `errors` names the fields.",
    "428": "The change needs If-Match with the record's ETag.",
    "429": "Too many requests for this token; wait for Retry-After seconds.",
    "500": "The CRM failed to answer; the error is in its log.",
    "503": "The CRM's database cannot be reached just now; retry later.",
}
#: the largest id a path or filter takes (a signed 64-bit integer, what every backend stores)
MAX_ID = 2**63 - 1
_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def path_template(path: str) -> tuple[str, str, dict[str, str]]:
    """``"/contacts/{id:int}"`` -> the Flask rule, the OpenAPI path and the parameters' converters."""
    converters = {m.group(1): (m.group(2) or "string") for m in _PARAM.finditer(path)}
    rule = _PARAM.sub(lambda m: f"<{m.group(2) + ':' if m.group(2) else ''}{m.group(1)}>", path)
    return rule, _PARAM.sub(lambda m: "{" + m.group(1) + "}", path), converters


class _Schemas:
    """JSON Schemas of annotations; records go to ``components`` (a request body's variant is ``<Name>Input``)."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}
        self._body = False

    def body(self, annotation: Any) -> dict[str, Any]:
        """The schema of a request body: its records refuse unknown fields and require only fields without a default."""
        self._body = True
        try:
            return self.of(annotation)
        finally:
            self._body = False

    def of(self, annotation: Any) -> dict[str, Any]:
        if annotation is None or annotation is type(None):
            return {"type": "null"}
        if annotation is Any or annotation is object:
            return {}
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (typing.Union, types.UnionType):
            options = [self.of(a) for a in args]
            simple = [o.get("type") for o in options]
            if all(isinstance(t, str) for t in simple) and all(set(o) <= {"type"} for o in options):
                return {"type": list(dict.fromkeys(typing.cast(list[str], simple)))}
            return {"anyOf": options}
        if origin is typing.Literal:
            return {"enum": list(args)}
        if origin in (list, tuple, set, frozenset, Sequence, typing.Sequence) or annotation in (list, tuple):
            item = args[0] if args else Any
            return {"type": "array", "items": self.of(item)}
        if origin in (dict, Mapping, typing.Mapping) or annotation is dict:
            value = args[1] if len(args) == 2 else Any
            return {"type": "object", "additionalProperties": self.of(value)}
        if isinstance(annotation, type):
            if attrs.has(annotation):
                return self.record(annotation)
            if issubclass(annotation, bool):
                return {"type": "boolean"}
            if issubclass(annotation, int):
                return {"type": "integer"}
            if issubclass(annotation, float):
                return {"type": "number"}
            if issubclass(annotation, dt.datetime):
                return {"type": "string", "format": "date-time"}
            if issubclass(annotation, dt.date):
                return {"type": "string", "format": "date"}
            if issubclass(annotation, decimal.Decimal):
                return {"type": "string", "format": "decimal"}
            if issubclass(annotation, uuid.UUID):
                return {"type": "string", "format": "uuid"}
            if issubclass(annotation, str):
                return {"type": "string"}
        return {}

    def record(self, cls: type) -> dict[str, Any]:
        body = self._body
        name = cls.__name__ + ("Input" if body else "")
        if name not in self.components:
            self.components[name] = {}  # a placeholder, so that a record naming itself ends
            hints = _hints(cls)
            properties: dict[str, Any] = {}
            required = []
            for field in attrs.fields(cls):
                if field.name.startswith("_"):
                    continue
                schema = dict(self.of(hints.get(field.name, Any)))
                # a field's own constraints: attrs.field(metadata={"schema": {"minLength": 1}})
                schema.update(field.metadata.get("schema", {}))
                properties[field.name] = schema
                if not body or field.default is attrs.NOTHING:
                    required.append(field.name)
            doc = (cls.__doc__ or "").strip().split("\n\n")[0]
            self.components[name] = {
                "type": "object",
                "description": " ".join(doc.split()),
                "properties": properties,
                "required": required,
            }
            if body:
                self.components[name]["additionalProperties"] = False
        return {"$ref": f"#/components/schemas/{name}"}


def _hints(cls: type) -> dict[str, Any]:
    """The field annotations of ``cls``, resolved; a name its module imports only for type checkers
    (``dt``, ``Decimal``…) is looked up among the usual ones, and an annotation that still cannot be
    resolved documents the field as any JSON value rather than failing the whole document."""
    import sys

    usual = {"dt": dt, "datetime": dt, "decimal": decimal, "Decimal": decimal.Decimal, "uuid": uuid, "Any": Any}
    module = vars(sys.modules.get(cls.__module__, typing))
    try:
        return typing.get_type_hints(cls, globalns={**usual, **module})
    except Exception:
        hints: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for name, annotation in getattr(klass, "__annotations__", {}).items():
                try:
                    hints[name] = typing.get_type_hints(
                        type("_One", (), {"__annotations__": {name: annotation}, "__module__": klass.__module__}),
                        globalns={**usual, **vars(sys.modules.get(klass.__module__, typing))},
                    )[name]
                except Exception:
                    hints[name] = Any
        return hints


def schema_of(annotation: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of ``annotation`` and the component schemas it refers to."""
    schemas = _Schemas()
    return schemas.of(annotation), schemas.components


def _parameters(operation: ApiOperation, converters: dict[str, str]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID} if kind == "int" else {"type": "string"},
        }
        for name, kind in converters.items()
    ]
    for param in operation.filters:
        schema: dict[str, Any] = {"type": param.type}
        if param.format:
            schema["format"] = param.format
        if param.enum:
            schema["enum"] = list(param.enum)
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
        if param.pattern is not None:
            schema["pattern"] = param.pattern
        params.append({"name": param.name, "in": "query", "description": param.description, "schema": schema})
    if operation.paginated:
        params += [
            {
                "name": "limit",
                "in": "query",
                "description": "How many records per page (default 50, at most 500).",
                "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
            },
            {
                "name": "cursor",
                "in": "query",
                "description": "The opaque cursor from the previous page's `next` link.",
                "schema": {"type": "string"},
            },
            {
                "name": "count",
                "in": "query",
                "description": "Also return `total`, the number of records across all pages (slower on big tables).",
                "schema": {"type": "boolean", "default": False},
            },
        ]
        if operation.sorts:
            choices = [s for name in operation.sorts for s in (name, f"-{name}")]
            params.append(
                {
                    "name": "sort",
                    "in": "query",
                    "description": "The order: a field, with a leading '-' for descending.",
                    "schema": {"type": "string", "enum": choices},
                }
            )
    if operation.etag_from:
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "The ETag of the version of the record this change was made from.",
                "schema": {"type": "string"},
            }
        )
    if operation.method == "POST":
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "description": "A unique key per intended change: a retry with it gets the first answer.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
            }
        )
    return params


def _responses(operation: ApiOperation, schemas: _Schemas) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if operation.status == 204 or (operation.returns is None and operation.method == "DELETE"):
        responses["204"] = {"description": "Done; no content."}
    elif operation.returns is ApiFile:
        responses[str(operation.status)] = {
            "description": operation.summary or "The file.",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in operation.produces or ("application/octet-stream",)
            },
        }
    else:
        item = schemas.of(operation.returns) if operation.returns is not None else {"type": "object"}
        if operation.paginated:
            body: dict[str, Any] = {
                "type": "object",
                "required": ["data", "next"],
                "properties": {
                    "data": {"type": "array", "items": item},
                    "next": {"type": ["string", "null"], "description": "The next page's URL; null on the last page."},
                    "total": {"type": "integer", "description": "Only with ?count=true."},
                },
            }
        else:
            body = item
        headers: dict[str, Any] = {}
        if operation.method != "GET" or not operation.paginated:
            headers["ETag"] = {"schema": {"type": "string"}, "description": "The record's version."}
        if operation.status == 201:
            headers["Location"] = {"schema": {"type": "string"}, "description": "The new record's URL."}
        elif operation.status == 202 and operation.location:
            headers["Location"] = {"schema": {"type": "string"}, "description": "Where to follow the work accepted."}
        responses[str(operation.status)] = {
            "description": operation.summary or "Done.",
            "content": {"application/json": {"schema": body}},
            **({"headers": headers} if headers and not operation.paginated else {}),
        }
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, text in _ERROR_STATUSES.items():
        if status == "412" and not operation.etag_from:
            continue
        if status == "428" and not operation.etag_from:
            continue
        if status == "413" and operation.method in ("GET", "DELETE"):
            continue
        responses[status] = {"description": text, **problem}
        if status == "413" and operation.body == "binary" and operation.accepts:
            responses["415"] = {"description": f"The body is not one of {', '.join(operation.accepts)}.", **problem}
    return responses


def build_document(resources: Sequence[ApiResource], *, title: str, version: str, server: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``resources``, served under ``server`` (``/api/v1``)."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for resource in resources:
        for operation in resource.operations:
            _, path, converters = path_template(operation.path)
            entry: dict[str, Any] = {
                "operationId": operation.operation_id,
                "summary": operation.summary,
                "tags": [resource.name],
                "parameters": _parameters(operation, converters),
                "responses": _responses(operation, schemas),
            }
            if operation.description:
                entry["description"] = operation.description
            if operation.permission:
                entry["x-permission"] = operation.permission
            if operation.body == "binary":
                entry["requestBody"] = {
                    "required": True,
                    "content": {
                        media: {"schema": {"type": "string", "format": "binary"}}
                        for media in operation.accepts or ("application/octet-stream",)
                    },
                }
            elif operation.body is not None:
                body = operation.body if isinstance(operation.body, dict) else schemas.body(operation.body)
                entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
            paths.setdefault(path, {})[operation.method.lower()] = entry
    components = dict(sorted(schemas.components.items()))
    components["Problem"] = PROBLEM
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The CRM's HTTP API. Authenticate with `Authorization: Bearer <token>` "
            "(make one with `crm tokens create`).",
        },
        "servers": [{"url": server}],
        "tags": [{"name": r.name, "description": r.description} for r in resources],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "An API token."}},
        },
        "security": [{"token": []}],
    }

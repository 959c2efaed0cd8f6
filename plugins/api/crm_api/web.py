"""The app factory: the resources of every enabled plugin, behind tokens, limits and the API's conventions.

One request goes: rate limit (per token) -> bearer token (``crm.authz.as_token``:
the handler runs as the token's user, narrowed to its scopes) -> the query
string, cursor and body checked -> ``If-Match`` against the record's current
``ETag`` for a change -> ``Idempotency-Key`` for a creation -> the handler
(which calls the plugin's API object, which checks permissions and scopes)
-> JSON. Every failure is ``application/problem+json`` (RFC 9457) with the
stable ``code`` of the ``CRMError`` family.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import logging
import operator
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import orjson
from flask import Flask, Response, g, request, url_for
from werkzeug.exceptions import HTTPException

from crm_api import idempotency
from crm_api.locking import record_lock
from crm_api.openapi import MAX_ID, build_document, path_template
from crm_api.settings import parse_rate
from crm_core.errors import AuthenticationError, CRMError, PermissionDenied, PluginError, ValidationError
from crm_hookspecs.records import ApiFile, ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["PREFIX", "ApiProblem", "collect_resources", "create_app", "etag_of", "to_api_json"]

PREFIX = "/api/v1"
#: a page holds at most this many records
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
#: query parameters that every listing understands (the others are the operation's filters)
PAGING = frozenset({"limit", "cursor", "sort", "count"})
#: the phrases of RFC 9110 where Python's are older
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}
log = logging.getLogger("crm.api")


class ApiProblem(Exception):
    """An error the HTTP layer itself answers (bad cursor, missing If-Match…), with its status and code."""

    def __init__(self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}


# -- JSON ----------------------------------------------------------------------------------------


_PLAIN = frozenset({str, int, float, bool, type(None)})
#: how to convert a value of each type met, worked out once per type: a page of 50 cards is about a
#: thousand values, and finding each one's kind through a chain of checks was a third of the page's time
_CONVERTERS: dict[type, Callable[[Any], Any]] = {}


def to_api_json(value: Any) -> Any:
    """``value`` as the API's JSON: records by field name, times in UTC with ``Z``, decimals as strings."""
    cls = type(value)
    if cls in _PLAIN:
        return value
    convert = _CONVERTERS.get(cls)
    if convert is None:
        convert = _CONVERTERS[cls] = _converter_for(cls)
    return convert(value)


def _converter_for(cls: type) -> Callable[[Any], Any]:
    """The conversion of values of ``cls`` (checked in this order: a subclass takes its first match)."""
    if attrs.has(cls):
        # an attrs record's public fields by name; plain values are taken without a call
        names = tuple(a.name for a in attrs.fields(cls) if not a.name.startswith("_"))
        if not names:
            return lambda value: {}
        read = operator.attrgetter(*names)
        if len(names) == 1:
            return lambda value: {names[0]: to_api_json(read(value))}

        def record(value: Any) -> dict[str, Any]:
            return {k: v if type(v) in _PLAIN else to_api_json(v) for k, v in zip(names, read(value))}

        return record
    if issubclass(cls, dict):
        return lambda value: {str(k): v if type(v) in _PLAIN else to_api_json(v) for k, v in value.items()}
    if issubclass(cls, (list, tuple)):
        return lambda value: [v if type(v) in _PLAIN else to_api_json(v) for v in value]
    if issubclass(cls, (set, frozenset)):
        return lambda value: sorted((to_api_json(v) for v in value), key=str)
    if issubclass(cls, dt.datetime):
        return _utc_text
    if issubclass(cls, dt.date):
        return lambda value: value.isoformat()
    if issubclass(cls, (decimal.Decimal, uuid.UUID)):
        return str
    if issubclass(cls, enum.Enum):
        return lambda value: to_api_json(value.value)
    return lambda value: value


def _utc_text(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _dumps(value: Any) -> bytes:
    """The API's JSON text of ``value`` (plain values, as :func:`to_api_json` makes them), as UTF-8.

    orjson: a page of 50 contacts took the standard library 300 µs to encode, orjson 23 µs (the same
    compact text; a float it writes in its shortest form, NaN and infinities as ``null``).
    """
    return orjson.dumps(value)


def etag_of(data: Any) -> str:
    """A strong ETag for a record's JSON: the same content, the same tag (keys sorted at every level)."""
    digest = hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f'"{digest[:32]}"'


# -- resources -------------------------------------------------------------------------------------


def collect_resources(crm: CRM) -> list[tuple[str, ApiResource]]:
    """Every enabled plugin's resources, checked: one method and path, and one operation id, per operation."""
    found = crm.hooks.api_resources(crm)
    routes: dict[tuple[str, str], tuple[str, str]] = {}
    ids: dict[str, str] = {}
    for plugin, resource in found:
        for operation in resource.operations:
            _, path, _ = path_template(operation.path)
            key = (operation.method, path)
            if key in routes:
                other, other_id = routes[key]
                raise PluginError(
                    plugin,
                    f"API operation {operation.operation_id!r} of plugin {plugin!r} and {other_id!r} of plugin "
                    f"{other!r} both serve {operation.method} {path}; one of them must change its path",
                )
            if operation.operation_id in ids:
                raise PluginError(
                    plugin,
                    f"plugins {ids[operation.operation_id]!r} and {plugin!r} both name an API operation "
                    f"{operation.operation_id!r}; operation ids start with the plugin's name",
                )
            routes[key] = (plugin, operation.operation_id)
            ids[operation.operation_id] = plugin
    for plugin, resource in found:
        for operation in resource.operations:
            for field, target in (("etag_from", operation.etag_from), ("location", operation.location)):
                if target is not None and target not in ids:
                    raise PluginError(
                        plugin,
                        f"API operation {operation.operation_id!r} of plugin {plugin!r} names {field}={target!r}, "
                        "which is no operation; name the operation that reads the record",
                    )
    return found


# -- rate limits -----------------------------------------------------------------------------------


class RateLimiter:
    """A fixed window per key (the token's prefix, or the client address before a token is read).

    Counted in this process: with ``crm api serve --workers N`` a client can
    make up to N times the limit when its requests spread over every worker.
    """

    def __init__(self, limit: int, seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> tuple[bool, int, int]:
        """Count one request; return (allowed, remaining, seconds until the window resets)."""
        now = self._clock()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.seconds:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
            if len(self._windows) > 10_000:  # forget finished windows now and then
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < self.seconds}
        reset = max(1, int(start + self.seconds - now + 0.999))
        return count <= self.limit, max(0, self.limit - count), reset


def _limit_key() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    parts = token.strip().split("_", 2)
    if scheme.lower() == "bearer" and len(parts) == 3 and parts[0] == "crm":
        return "token:" + parts[1]
    return "address:" + (request.remote_addr or "?")


# -- requests --------------------------------------------------------------------------------------


def _bearer() -> str:
    header = request.headers.get("Authorization")
    if not header:
        raise ApiProblem(
            401,
            "token_missing",
            "this request has no API token; send 'Authorization: Bearer <token>' (make one with 'crm tokens create')",
            headers={"WWW-Authenticate": 'Bearer realm="crm"'},
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(
            401,
            "token_missing",
            "the Authorization header must be 'Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer realm="crm", error="invalid_request"'},
        )
    return token.strip()


def _int_param(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiProblem(400, "invalid_parameter", f"?{name}={text!r} must be a whole number from {low} to {high}")
    return value


def _bool_param(name: str, text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no", ""):
        return False
    raise ApiProblem(400, "invalid_parameter", f"?{name}={text!r} must be true or false")


class _Cursors:
    """Opaque cursors: the handler's ``next`` value, signed and bound to its operation."""

    def __init__(self, crm: CRM) -> None:
        from crm_core.signing import signer

        self._signer = signer(crm, "api.cursor")

    def make(self, operation: ApiOperation, value: Any, sort: str | None) -> str:
        return self._signer.sign([operation.operation_id, sort or "", _dumps(value).decode()])

    def read(self, operation: ApiOperation, text: str, sort: str | None) -> Any:
        from crm_core.signing import LinkError

        bad = ApiProblem(
            400,
            "invalid_cursor",
            "?cursor= is not a cursor of this listing; start again without it, then follow 'next'",
        )
        try:
            values, _ = self._signer.read(text, what="cursor")
        except LinkError:
            raise bad from None
        if len(values) != 3 or values[0] != operation.operation_id:
            raise bad
        if values[1] != (sort or ""):
            raise ApiProblem(
                400, "invalid_cursor", "?cursor= was made for another ?sort=; keep the sort of the first page"
            )
        return json.loads(values[2])


def _check_param(param: ApiParam, value: str) -> None:
    if param.enum and value not in param.enum:
        raise ApiProblem(400, "invalid_parameter", f"?{param.name}={value!r} is not one of {', '.join(param.enum)}")
    if param.pattern is not None and not re.search(param.pattern, value):
        raise ApiProblem(400, "invalid_parameter", f"?{param.name}={value!r} does not have the form {param.pattern}")
    if param.type == "boolean":
        _bool_param(param.name, value)
    elif param.type in ("integer", "number"):
        try:
            number = int(value) if param.type == "integer" else float(value)
        except ValueError:
            kind = "a whole number" if param.type == "integer" else "a number"
            raise ApiProblem(400, "invalid_parameter", f"?{param.name}={value!r} must be {kind}") from None
        low, high = param.minimum, param.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"from {low if low is not None else '-inf'} to {high if high is not None else 'inf'}"
            raise ApiProblem(400, "invalid_parameter", f"?{param.name}={value!r} must be {bounds}")
    elif param.format == "date-time":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ApiProblem(
                400, "invalid_parameter", f"?{param.name}={value!r} is not a time; write it as 2026-11-01T00:00:00Z"
            ) from None
    elif param.format == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ApiProblem(400, "invalid_parameter", f"?{param.name}={value!r} is not a date (YYYY-MM-DD)") from None


def _check_fields(record: type, body: dict[str, Any], *, partial: bool) -> None:
    """A body given as an attrs record takes only its fields and, but for a PATCH (which sends only what
    changes), needs those without a default (422 otherwise)."""
    fields = attrs.fields(record)
    names = [f.name for f in fields]
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(unknown)}; the fields are: {', '.join(names)}")
    missing = [] if partial else [f.name for f in fields if f.default is attrs.NOTHING and f.name not in body]
    if missing:
        raise ValidationError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")


def _parse(operation: ApiOperation, path: dict[str, Any], cursors: _Cursors) -> ApiRequest:
    args = request.args
    allowed = {p.name for p in operation.filters} | (PAGING if operation.paginated else set())
    unknown = sorted(set(args) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise ApiProblem(
            400, "invalid_parameter", f"unknown query parameter(s) {', '.join(unknown)}; this operation takes: {known}"
        )
    for name in args:
        if len(args.getlist(name)) > 1:
            raise ApiProblem(400, "invalid_parameter", f"?{name}= is given more than once; give it once")
    query = {k: v for k, v in args.items() if k not in PAGING}
    for param in operation.filters:
        value = query.get(param.name)
        if value is not None:
            _check_param(param, value)
    limit, cursor, sort, count = DEFAULT_LIMIT, None, None, False
    if operation.paginated:
        if "limit" in args:
            limit = _int_param("limit", args["limit"], 1, MAX_LIMIT)
        sort = args.get("sort") or None
        if sort is not None and sort.lstrip("-") not in operation.sorts:
            choices = ", ".join(operation.sorts) or "none"
            raise ApiProblem(
                400, "invalid_parameter", f"?sort={sort!r}: sort by one of {choices} (a leading - for descending)"
            )
        if "cursor" in args:
            cursor = cursors.read(operation, args["cursor"], sort)
        count = _bool_param("count", args.get("count", ""))
    body = None
    if operation.body == "binary":
        data = request.get_data(cache=True)
        if not data:
            raise ApiProblem(422, "invalid_input", "the body is the file's content, and it is empty")
        return ApiRequest(
            path=path, query=query, data=data, content_type=request.mimetype or "application/octet-stream"
        )
    if operation.method in ("POST", "PUT", "PATCH") and request.content_length != 0:
        raw = request.get_data(cache=True)
        if raw.strip():
            if not (request.mimetype or "").endswith("json"):
                raise ApiProblem(
                    415, "unsupported_media_type", "send the body as JSON, with 'Content-Type: application/json'"
                )
            try:
                body = json.loads(raw)
            except (UnicodeDecodeError, ValueError) as exc:
                raise ApiProblem(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if operation.body is not None and operation.method in ("POST", "PUT", "PATCH") and not isinstance(body, dict):
        raise ApiProblem(422, "invalid_input", "the body must be a JSON object")
    if isinstance(body, dict) and isinstance(operation.body, type) and attrs.has(operation.body):
        _check_fields(operation.body, body, partial=operation.method == "PATCH")
    return ApiRequest(path=path, query=query, body=body, limit=limit, cursor=cursor, sort=sort, count=count)


# -- responses -------------------------------------------------------------------------------------


def _problem(status: int, code: str, detail: str, errors: list[dict[str, str]] | None = None) -> Response:
    from http import HTTPStatus

    try:
        title = _TITLES.get(status) or HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail}
    if errors:
        body["errors"] = errors
    return Response(_dumps(body), status=status, mimetype="application/problem+json")


def _problem_of(exc: BaseException) -> Response:
    if isinstance(exc, ApiProblem):
        response = _problem(exc.status, exc.code, exc.detail)
        response.headers.update(exc.headers)
        return response
    if isinstance(exc, PermissionDenied) and exc.record:
        # a record outside the caller's scope is answered as if it did not exist, so ids do not leak
        return _problem(404, "not_found", "no such record (or it is outside what your token may read)")
    if isinstance(exc, AuthenticationError):
        response = _problem(401, exc.code, exc.message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="crm", error="invalid_token"'
        return response
    if isinstance(exc, CRMError):
        errors = None
        field = getattr(exc, "field", None)
        if isinstance(exc, ValidationError):
            errors = getattr(exc, "errors", None) or [
                {"field": field, "message": exc.message} if field else {"message": exc.message}
            ]
        status = exc.http_status
        if status >= 500:
            log.error("API request failed: %s", exc, exc_info=exc)
        return _problem(status, exc.code, exc.message if status < 500 else _server_detail(exc), errors)
    if isinstance(exc, HTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type"}
        status = exc.code or 500
        detail = {
            404: "no such API path; see /api/v1/openapi.json for the paths this CRM serves",
            413: "the request body is over this API's size limit ([plugins.api] max_body_kb)",
        }.get(status, exc.description or "")
        response = _problem(status, codes.get(status, "http_error"), detail)
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response
    log.error("API request failed", exc_info=exc)
    return _problem(500, "internal_error", "the CRM failed to answer this request; the error is in its log")


def _server_detail(exc: CRMError) -> str:
    if exc.code in ("database_unavailable", "connection_lost"):
        return "the CRM's database cannot be reached just now; try again in a moment"
    return "the CRM failed to answer this request; the error is in its log"


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(_dumps(data), status=status, mimetype="application/json")


# -- the app ---------------------------------------------------------------------------------------


def create_app(crm: CRM, *, name: str = "crm_api") -> Flask:
    """The HTTP API as a WSGI application for ``crm``, served under ``/api/v1``.

    Mount it anywhere (``DispatcherMiddleware``); a bad resource of a plugin
    (two operations on one path) stops here with a ``PluginError``.
    """
    from crm_api.docs_page import render_page

    settings = crm.settings("api")
    resources = [resource for _, resource in collect_resources(crm)]
    operations = {op.operation_id: op for resource in resources for op in resource.operations}
    limiter = RateLimiter(*parse_rate(settings.rate_limit))
    cursors = _Cursors(crm)
    app = Flask(name)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_kb * 1024, PROPAGATE_EXCEPTIONS=False)
    app.extensions["crm"] = crm
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_prefix=count)  # type: ignore[method-assign]
    from crm_api import __version__

    document_cache: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        server = request.script_root + PREFIX
        if server not in document_cache:
            document_cache[server] = build_document(resources, title="CRM API", version=__version__, server=server)
        return document_cache[server]

    @app.before_request
    def _begin() -> Response | None:
        if request.path in ("/healthz", "/readyz"):  # probes are not counted against anyone's limit
            g.activation = crm.activate()
            g.activation.__enter__()
            return None
        allowed, remaining, reset = limiter.hit(_limit_key())
        g.rate = (remaining, reset)
        if request.method == "OPTIONS":
            return None
        if not allowed:
            response = _problem(
                429, "rate_limited", f"too many requests for this token; wait {reset} s (limit {settings.rate_limit})"
            )
            response.headers["Retry-After"] = str(reset)
            return response
        g.activation = crm.activate()
        g.activation.__enter__()
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        remaining, reset = g.get("rate", (limiter.limit, limiter.seconds))
        response.headers["RateLimit-Limit"] = str(limiter.limit)
        response.headers["RateLimit-Remaining"] = str(remaining)
        response.headers["RateLimit-Reset"] = str(reset)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        _cors(response, settings.cors_origins)
        return response

    @app.teardown_request
    def _end(exc: BaseException | None) -> None:
        activation = g.pop("activation", None)
        if activation is not None:
            activation.__exit__(None, None, None)
        if getattr(crm.database, "pooled", False) and not crm.database.in_transaction():
            crm.database.close()

    @app.errorhandler(Exception)
    def _error(exc: Exception) -> Response:
        return _problem_of(exc)

    @app.get("/healthz")
    def healthz() -> Response:
        # for a load balancer's liveness check: the database answers (one that does not is a 503 problem)
        crm.database.execute_sql("SELECT 1")
        return Response("ok\n", mimetype="text/plain")

    @app.get("/readyz")
    def readyz() -> Response:
        """Ready to take traffic: the database can be written, else 503."""
        from crm_core.errors import StorageError
        from crm_core.storage import check_writable

        try:
            check_writable(crm.database)
        except StorageError as exc:
            log.error("api: not ready, the database cannot be written: %s", exc)
            return _problem(503, "not_ready", "the CRM's database cannot be written just now")
        return Response("ready\n", mimetype="text/plain")

    @app.get(PREFIX + "/openapi.json")
    def openapi() -> Response:
        return _json_response(document())

    @app.get(PREFIX + "/docs")
    def docs() -> Response:
        return Response(render_page(document()), mimetype="text/html")

    @app.get(PREFIX + "/me")
    def me() -> Response:
        with crm.authz.as_token(_bearer(), address=request.remote_addr) as user:
            acting = crm.authz.acting
            grants = acting.grants if acting is not None else {}
        data = to_api_json(user)
        data["permissions"] = dict(sorted(grants.items()))
        return _json_response(data)

    for operation in operations.values():
        rule, _, _ = path_template(operation.path)
        app.add_url_rule(
            PREFIX + rule,
            endpoint=operation.operation_id,
            view_func=_view(crm, operation, operations, cursors, settings),
            methods=[operation.method],
        )
    return app


def _view(
    crm: CRM, operation: ApiOperation, operations: dict[str, ApiOperation], cursors: _Cursors, settings: Any
) -> Callable[..., Response]:
    def view(**path: Any) -> Response:
        token = _bearer()
        if any(isinstance(v, int) and v > MAX_ID for v in path.values()):
            raise ApiProblem(404, "not_found", "no such record")
        with crm.authz.as_token(token, address=request.remote_addr):
            api_request = _parse(operation, path, cursors)
            key = request.headers.get("Idempotency-Key") if operation.method == "POST" else None
            if key is not None:
                acting = crm.authz.acting
                token_id = acting.token_id if acting is not None and acting.token_id is not None else 0
                return idempotency.run(
                    crm,
                    token_id=token_id,
                    key=key,
                    hours=settings.idempotency_hours,
                    answer=lambda: _answer(crm, operation, operations, api_request, path, cursors),
                )
            return _answer(crm, operation, operations, api_request, path, cursors)

    view.__name__ = operation.operation_id.replace(".", "_")
    return view


def _answer(
    crm: CRM,
    operation: ApiOperation,
    operations: dict[str, ApiOperation],
    api_request: ApiRequest,
    path: dict[str, Any],
    cursors: _Cursors,
) -> Response:
    if operation.etag_from is not None:
        read = operations.get(operation.etag_from)
        if read is None:
            raise PluginError(
                "api", f"operation {operation.operation_id!r} names etag_from={operation.etag_from!r}, no operation"
            )
        wanted = request.headers.get("If-Match")
        if not wanted:
            raise ApiProblem(
                428,
                "precondition_required",
                "this change needs 'If-Match: <ETag>', the ETag of the record as you last read it (GET it first)",
            )
        with record_lock(crm, request.path):
            current = etag_of(to_api_json(read.handler(crm, ApiRequest(path=path))))
            tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
            if "*" not in tags and current not in tags:
                raise ApiProblem(
                    412,
                    "stale_record",
                    "the record changed since you read it (its ETag is no longer the one in If-Match); "
                    "GET it again, re-apply your change and retry",
                )
            result = operation.handler(crm, api_request)
    else:
        result = operation.handler(crm, api_request)
    if result is None:
        return Response(status=204)
    if isinstance(result, ApiFile):
        from urllib.parse import quote

        download = Response(result.data, status=operation.status, mimetype=result.content_type)
        download.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(result.name)}"
        download.headers["ETag"] = f'"{hashlib.sha256(result.data).hexdigest()[:32]}"'
        return download
    if isinstance(result, ApiPage):
        body: dict[str, Any] = {"data": to_api_json(result.items), "next": None}
        if result.next is not None:
            args = {k: v for k, v in request.args.items() if k != "cursor"}
            args["cursor"] = cursors.make(operation, result.next, api_request.sort)
            body["next"] = url_for(operation.operation_id, _external=True, **path, **args)
        if api_request.count and result.total is not None:
            body["total"] = result.total
        return _json_response(body, operation.status)
    data = to_api_json(result)
    response = _json_response(data, operation.status)
    if isinstance(data, dict):
        response.headers["ETag"] = etag_of(data)
        if operation.status in (201, 202) and operation.location and "id" in data:
            target = operations.get(operation.location)
            if target is not None:
                _, _, converters = path_template(target.path)
                name = next(iter(converters), "id")
                response.headers["Location"] = url_for(operation.location, _external=True, **{name: data["id"]})
    return response


def _cors(response: Response, origins: list[str]) -> None:
    origin = request.headers.get("Origin")
    if not origins or not origin or ("*" not in origins and origin not in origins):
        return
    response.headers["Access-Control-Allow-Origin"] = origin if "*" not in origins else "*"
    response.headers["Vary"] = "Origin"
    response.headers["Access-Control-Expose-Headers"] = (
        "ETag, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
    )
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, If-Match, Idempotency-Key"
        response.headers["Access-Control-Max-Age"] = "600"

"""The analytics plugin's resources in the HTTP API (``crm_api_resources``): reports, charts, schedules.

A report runs by name (standard, saved or a plugin's) with its range, period
and options as query parameters, and answers as JSON (``/reports/{name}``),
as a CSV download (``/reports/{name}/csv``) or as a chart
(``/reports/{name}/chart``). A definition posted as JSON runs unsaved
(``POST /reports/run``) or is saved (``POST /reports``). Every handler calls
``crm.plugin("analytics")``, which checks the permissions
(``analytics.reports.run``/``export``/``create``/``edit``,
``analytics.schedules.read``/``send``); a report reads only the records the
caller may read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import ApiFile, ApiOperation, ApiPage, ApiParam, ApiRequest, ApiResource

__all__ = ["resources"]

#: options given as comma-separated lists (``?by=region,owner``)
_LISTS = ("by", "kind", "region", "owner", "member", "nps_question", "csat_question")
_GRAINS = ("week", "month", "quarter", "year", "all")


@attrs.frozen
class ReportSummary:
    """A report that can be run: its name, ``kind`` (standard, saved, or the plugin that contributes it), title."""

    name: str
    kind: str
    title: str


@attrs.frozen
class ReportChart:
    """How the report is drawn by default: ``x`` along the axis, the ``y`` measures, series by ``group``."""

    x: str
    y: list[str]
    group: list[str]
    kind: str


@attrs.frozen
class ReportTable:
    """A secondary table of a report (the forecast's ``history``): its columns and rows."""

    columns: list[str]
    rows: list[dict[str, Any]]


@attrs.frozen
class ReportResult:
    """A report's result: rows keyed by ``columns``; ``periods`` lists every period of the range (with or without
    rows); ``empty_message`` says why there are no rows; ``notes`` are what the reader should know; ``extra`` holds
    named secondary tables."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    start: dt.date | None
    end: dt.date | None
    period: str | None
    periods: list[str]
    notes: list[str]
    empty_message: str
    chart: ReportChart | None
    extra: dict[str, ReportTable]


@attrs.frozen
class SavedReportInfo:
    """A custom report saved: its name, title and who saved it."""

    name: str
    title: str
    saved_by: str | None


@attrs.frozen
class DefinitionInput:
    """A custom report's definition, with the keys of a report file (see the analytics docs), to save.
    ``replace`` overwrites the report saved under that name."""

    definition: dict[str, Any] = attrs.field(metadata={"schema": {"type": "object"}})
    replace: bool = False


@attrs.frozen
class RunInput:
    """A custom report's definition to run without saving it, and its range (``YYYY-MM-DD``) and period."""

    definition: dict[str, Any] = attrs.field(metadata={"schema": {"type": "object"}})
    start: str | None = attrs.field(default=None, metadata={"schema": {"format": "date"}})
    end: str | None = attrs.field(default=None, metadata={"schema": {"format": "date"}})
    period: str | None = attrs.field(default=None, metadata={"schema": {"enum": [*_GRAINS, None]}})


@attrs.frozen
class ScheduleInfo:
    """A scheduled report: what it sends, when (an RFC 5545 rule), to whom, its last delivery and next occurrence."""

    name: str
    report: str
    rule: str
    range: str
    to: str
    run_as: str | None
    last_sent_for: str | None
    last_rows: int | None
    next: str | None


@attrs.frozen
class ScheduleSent:
    """A scheduled report sent now: the range it covered, its rows, and ``queued`` (or ``already queued``)."""

    schedule: str
    report: str
    start: dt.date
    end: dt.date
    rows: int
    status: str


def _analytics(crm: Any) -> Any:
    return crm.plugin("analytics")


def _result(report: Any) -> ReportResult:
    chart = report.chart
    return ReportResult(
        name=report.name,
        title=report.title,
        columns=list(report.columns),
        rows=[dict(row) for row in report.rows],
        start=report.start,
        end=report.end,
        period=report.period,
        periods=list(report.periods),
        notes=list(report.notes),
        empty_message=report.empty_message,
        chart=None if chart is None else ReportChart(chart.x, list(chart.y), list(chart.group), chart.kind),
        extra={
            key: ReportTable(list(columns), [dict(r) for r in rows]) for key, (columns, rows) in report.extra.items()
        },
    )


def _options(query: dict[str, str]) -> dict[str, Any]:
    """The report's options from the query string (the HTTP layer has checked their types)."""
    options: dict[str, Any] = {}
    for key, text in query.items():
        if key in ("from", "to", "format", "chart_kind", "measure"):
            continue
        if key in _LISTS:
            values = [v.strip() for v in text.split(",") if v.strip()]
            if not values:
                raise ValidationError(f"?{key}= is empty; give one or more values, separated by commas")
            options[key] = values
        elif key in ("survey", "quarters", "holdout"):
            options[key] = int(text)
        elif key == "by_region":
            options[key] = text.lower() in ("true", "1", "yes")
        else:
            options[key] = text
    return options


def _run(crm: Any, request: ApiRequest) -> Any:
    """Run report ``name`` with the query's range, period and options; an option it does not take is a 422."""
    analytics, name = _analytics(crm), request.path["name"]
    options = _options(request.query)
    period = options.pop("period", None)
    start, end = request.query.get("from"), request.query.get("to")
    if name == "forecast" and (start or end or period):
        raise ValidationError("the forecast looks ahead from today; it takes ?quarters=, ?holdout= and ?currency=")
    return analytics.run(name, start, end, period=period, **options)


def _report(crm: Any, request: ApiRequest) -> ReportResult:
    return _result(_run(crm, request))


def _csv(crm: Any, request: ApiRequest) -> ApiFile:
    report = _run(crm, request)
    text = _analytics(crm).export(report, "csv")
    stamp = f"-{report.start.isoformat()}-{report.end.isoformat()}" if report.start and report.end else ""
    return ApiFile(f"{report.name}{stamp}.csv", "text/csv; charset=utf-8", (text + "\n").encode("utf-8"))


def _chart(crm: Any, request: ApiRequest) -> ApiFile:
    report = _run(crm, request)
    fmt = request.query.get("format", "png")
    measures = [m.strip() for m in request.query.get("measure", "").split(",") if m.strip()] or None
    data = _analytics(crm).chart(report, kind=request.query.get("chart_kind"), fmt=fmt, measures=measures)
    return ApiFile(f"{report.name}.{fmt}", "image/png" if fmt == "png" else "image/svg+xml", data)


def _run_definition(crm: Any, request: ApiRequest) -> ReportResult:
    body = request.body
    analytics = _analytics(crm)
    if not isinstance(body.get("definition"), dict):
        raise ValidationError("definition must be an object with the keys of a report file (name, view, measures…)")
    definition = analytics.check(body["definition"])
    report = analytics.run_definition(definition, body.get("start"), body.get("end"), period=body.get("period"))
    return _result(report)


def _save(crm: Any, request: ApiRequest) -> SavedReportInfo:
    body = request.body
    if not isinstance(body.get("definition"), dict):
        raise ValidationError("definition must be an object with the keys of a report file (name, view, measures…)")
    if not isinstance(body.get("replace", False), bool):
        raise ValidationError("replace must be true or false")
    analytics = _analytics(crm)
    saved = analytics.save_definition(body["definition"], replace=body.get("replace", False))
    user = crm.current_user
    return SavedReportInfo(saved.name, saved.title, user.name if user is not None else None)


def _remove(crm: Any, request: ApiRequest) -> None:
    _analytics(crm).remove(request.path["name"])


def _reports(crm: Any, request: ApiRequest) -> ApiPage:
    found = [ReportSummary(r["name"], r["kind"], r["title"]) for r in _analytics(crm).list()]
    return ApiPage(items=found, next=None, total=len(found))


def _schedules(crm: Any, request: ApiRequest) -> ApiPage:
    found = [
        ScheduleInfo(**{k: row[k] for k in (f.name for f in attrs.fields(ScheduleInfo))})
        for row in _analytics(crm).schedules()
    ]
    return ApiPage(items=found, next=None, total=len(found))


def _send(crm: Any, request: ApiRequest) -> ScheduleSent:
    sent = _analytics(crm).send(request.path["name"])
    return ScheduleSent(sent["schedule"], sent["report"], sent["from"], sent["to"], sent["rows"], sent["status"])


def _report_params() -> list[ApiParam]:
    def listed(name: str, text: str) -> ApiParam:
        return ApiParam(name, text + " Comma-separated for several.", pattern=r"\S")

    return [
        ApiParam("from", "First day of the range (YYYY-MM-DD) [default: two years of quarters back].", format="date"),
        ApiParam("to", "Last day of the range, included (YYYY-MM-DD) [default: today].", format="date"),
        ApiParam("period", "Group by week, month, quarter, year, or all (one row).", enum=_GRAINS),
        listed("by", "closed-share, sales: group by region, owner, product_line or kind; customers: region, country."),
        listed("kind", "closed-share, sales: only records of this kind (rfp, rfq, appointment, quote, sale)."),
        listed("region", "closed-share, sales: only this region."),
        listed("owner", "closed-share, sales: only this owner."),
        listed("member", "staff: only this staff member."),
        ApiParam(
            "currency", "closed-share, sales, pipeline, forecast: only this currency (ISO 4217).", pattern="^[A-Z]{3}$"
        ),
        ApiParam("survey", "surveys: only this survey (its id).", "integer", minimum=1, maximum=2**63 - 1),
        ApiParam("by_region", "surveys: one row per region (default true).", "boolean"),
        listed("nps_question", "surveys: the NPS question's key."),
        listed("csat_question", "surveys: the CSAT question's key."),
        ApiParam("quarters", "forecast: quarters to forecast.", "integer", minimum=1, maximum=12),
        ApiParam("holdout", "forecast: past quarters held out to measure the error.", "integer", minimum=1, maximum=8),
    ]


def resources(crm: Any) -> list[ApiResource]:
    params = _report_params()
    name_note = (
        "The options apply to the standard reports named in their descriptions; an option the report does not "
        "take is a 422, as is a range whose start is after its end. A custom report takes the range and period only."
    )
    reports = ApiResource(
        "reports",
        "Standard and custom reports (JSON, CSV, charts), run over the records the caller may read.",
        [
            ApiOperation(
                "GET",
                "/reports",
                _reports,
                "analytics.reports.list",
                summary="The reports that can be run: standard, saved and the plugins'",
                returns=ReportSummary,
                paginated=True,
                permission="analytics.reports.run",
            ),
            ApiOperation(
                "GET",
                "/reports/{name}",
                _report,
                "analytics.reports.run",
                summary="Run a report by name",
                description=name_note,
                returns=ReportResult,
                filters=params,
                permission="analytics.reports.run",
            ),
            ApiOperation(
                "GET",
                "/reports/{name}/csv",
                _csv,
                "analytics.reports.csv",
                summary="Run a report and download its rows as CSV",
                description=name_note,
                returns=ApiFile,
                filters=params,
                produces=("text/csv",),
                permission="analytics.reports.export",
            ),
            ApiOperation(
                "GET",
                "/reports/{name}/chart",
                _chart,
                "analytics.reports.chart",
                summary="Run a report and download its chart as PNG or SVG",
                description=name_note,
                returns=ApiFile,
                filters=[
                    *params,
                    ApiParam("format", "png (default) or svg.", enum=("png", "svg")),
                    ApiParam(
                        "chart_kind", "bar, line or stacked [default: the report's].", enum=("bar", "line", "stacked")
                    ),
                    ApiParam("measure", "The columns to draw, comma-separated [default: the report's].", pattern=r"\S"),
                ],
                produces=("image/png", "image/svg+xml"),
                permission="analytics.reports.export",
            ),
            ApiOperation(
                "POST",
                "/reports/run",
                _run_definition,
                "analytics.reports.run_definition",
                summary="Run a custom report definition without saving it",
                returns=ReportResult,
                body=RunInput,
                permission="analytics.reports.run",
            ),
            ApiOperation(
                "POST",
                "/reports",
                _save,
                "analytics.reports.create",
                summary="Save a custom report definition under its name",
                returns=SavedReportInfo,
                body=DefinitionInput,
                status=201,
                permission="analytics.reports.create",
            ),
            ApiOperation(
                "DELETE",
                "/reports/{name}",
                _remove,
                "analytics.reports.delete",
                summary="Remove a saved report",
                permission="analytics.reports.edit",
            ),
        ],
    )
    schedules = ApiResource(
        "report-schedules",
        "Reports sent by e-mail on a schedule (configured in [plugins.analytics]); send one now.",
        [
            ApiOperation(
                "GET",
                "/report-schedules",
                _schedules,
                "analytics.schedules.list",
                summary="The scheduled reports, with their last delivery and next occurrence",
                returns=ScheduleInfo,
                paginated=True,
                permission="analytics.schedules.read",
            ),
            ApiOperation(
                "POST",
                "/report-schedules/{name}/send",
                _send,
                "analytics.schedules.send",
                summary="Send a scheduled report now (once per occurrence)",
                returns=ScheduleSent,
                permission="analytics.schedules.send",
            ),
        ],
    )
    return [reports, schedules]

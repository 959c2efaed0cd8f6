"""The reports pages (a Flask blueprint): the list, a report with its pickers, table and chart, its downloads, the forecast.

Imported only by the desk (through :mod:`crm_analytics.desk`). Each view
calls ``flask.g.crm.plugin("analytics")`` as the signed-in user: running a
report needs ``analytics.reports.run``, its CSV and chart
``analytics.reports.export``, and every report counts only the records the
user may read. Bad pickers come back beside their field with ``400``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import flask
from flask import g, request
from werkzeug.exceptions import NotFound

from crm_analytics.desk import options as O
from crm_analytics.desk.formatting import heading, say, table, value_of
from crm_core.errors import ValidationError
from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = ["STANDARD_TITLES", "blueprint"]

RUN = "analytics.reports.run"
EXPORT = "analytics.reports.export"
CREATE = "analytics.reports.create"
#: the most rows a page shows (the CSV has them all)
MAX_ROWS = 1000
#: each standard report's title and what it shows, as the list and the report's page name them
STANDARD_TITLES: dict[str, tuple[str, str]] = {
    "closed-share": (N_("Share of sales won"), N_("Won, lost and open sales per quarter, by count and amount.")),
    "sales": (N_("Sales by region"), N_("Sales won per period by region, owner or product line.")),
    "pipeline": (N_("Pipeline"), N_("Open value per stage, conversion between stages, average days in a stage.")),
    "surveys": (N_("Surveys"), N_("NPS, CSAT and response rates per quarter and region.")),
    "customers": (
        N_("Customers over time"),
        N_("Customers, prospects and former customers per region or country; gained and lost."),
    ),
    "staff": (N_("Staff activity"), N_("Calls, meetings, notes, e-mails and tasks completed per staff member.")),
    "forecast": (N_("Sales forecast"), N_("The next quarters from the open pipeline and the sales history.")),
}


def blueprint() -> flask.Blueprint:
    """The reports pages, mounted by the desk at ``/reports``."""
    from crm_analytics.desk import builder, schedules

    page = flask.Blueprint("reports", __name__)
    page.add_url_rule("/", "index", index)
    page.add_url_rule("/forecast", "forecast", forecast_page)
    page.add_url_rule("/view/<name>", "report", report_page)
    page.add_url_rule("/view/<name>/csv", "csv", download_csv)
    page.add_url_rule("/view/<name>/chart.<fmt>", "chart", chart)
    page.add_url_rule("/new", "new", builder.new_report, methods=["GET", "POST"])
    page.add_url_rule("/new/check", "check", builder.check, methods=["POST"])
    page.add_url_rule("/view/<name>/edit", "edit", builder.edit_report, methods=["GET", "POST"])
    page.add_url_rule("/view/<name>/remove", "remove", builder.remove_report, methods=["POST"])
    page.add_url_rule("/schedules", "schedules", schedules.schedule_list)
    page.add_url_rule("/schedules/<name>/send", "schedule_send", schedules.send_now, methods=["POST"])
    return page


def api() -> Any:
    return g.crm.plugin("analytics")


def user_timezone(crm: Any) -> dt.tzinfo:
    """The signed-in user's time zone (their preference), else the app's: times in a custom report's cells."""
    name = getattr(g.get("user"), "timezone", None)
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    tz: dt.tzinfo = crm.tz
    return tz


def standard_title(name: str) -> str:
    return _(STANDARD_TITLES[name][0])


# -- the list ---------------------------------------------------------------------------


def index() -> Any:
    """The standard reports, then the saved custom reports (with Edit and Remove where the user may)."""
    crm = g.crm
    analytics = api()
    listed = analytics.list()  # checks analytics.reports.run
    saved = {row["name"]: row for row in analytics.saved()}
    standard = [
        {"name": name, "title": _(title), "text": _(text)}
        for name, (title, text) in STANDARD_TITLES.items()
        if name != "forecast"
    ]
    custom = []
    for row in listed:
        if row["kind"] == "standard":
            continue
        found = saved.get(row["name"])
        custom.append(
            {
                "name": row["name"],
                "title": row["title"],
                "origin": row["kind"],
                "saved_by": found["saved_by"] if found else None,
                "editable": bool(found and found["editable"]),
            }
        )
    return flask.render_template(
        "analytics/reports.html",
        standard=standard,
        custom=custom,
        may_create=crm.authz.can(CREATE),
        may_see_schedules=crm.authz.can("analytics.schedules.read"),
    )


# -- running a report ----------------------------------------------------------------------


def _prepare(name: str) -> tuple[Any, O.Pickers, str, bool]:
    """The report's pickers, title and whether it is standard; ``404`` for a report that does not exist."""
    analytics = api()
    if name in O.STANDARD:
        return analytics, O.STANDARD[name], standard_title(name), True
    definitions = analytics.definitions()  # checks analytics.reports.run
    if name not in definitions:
        raise NotFound(_("There is no report %(name)s.", name=name))
    definition = definitions[name]
    return analytics, O.pickers_for(name, definition.period_field is not None), definition.title, False


def _fields(pickers: O.Pickers) -> list[str]:
    names = []
    if pickers.range:
        names += ["from", "to"]
    if pickers.period:
        names.append("period")
    if pickers.currency:
        names.append("currency")
    if pickers.by:
        names.append("by")
    if pickers.kinds:
        names.append("kind")
    if pickers.regions_owners:
        names += ["region", "owner"]
    if pickers.member:
        names.append("member")
    if pickers.survey:
        names.append("survey")
    return names or ["form"]


def _run(name: str) -> dict[str, Any]:
    """Read the pickers and run report ``name``; the page's values (``report`` is None when a picker is wrong)."""
    if name == O.FORECAST:
        analytics = api()
        form, args, errors = O.read_forecast(request.args)
        fields = ["quarters", "holdout", "currency"]
        report = None
        if not errors:
            try:
                report = analytics.forecast(**args)
            except ValidationError as exc:
                errors[O.field_of(str(exc), fields)] = str(exc)
        return {"name": name, "title": standard_title(name), "standard": True, "form": form, "errors": errors,
                "report": report, "pickers": None}  # fmt: skip
    analytics, pickers, title, standard = _prepare(name)
    form, args, errors = O.read(pickers, request.args)
    report = None
    if not errors:
        start, end, period = args.pop("start", None), args.pop("end", None), args.pop("period", None)
        try:
            report = analytics.run(name, start, end, period=period, **args)
        except ValidationError as exc:
            errors[O.field_of(str(exc), _fields(pickers))] = str(exc)
    return {"name": name, "title": title, "standard": standard, "form": form, "errors": errors, "report": report,
            "pickers": pickers}  # fmt: skip


def _page(template: str, values: dict[str, Any]) -> Any:
    crm = g.crm
    report = values["report"]
    pickers = values["pickers"]
    may_export = crm.authz.can(EXPORT)
    query = O.query_of(values["form"])
    heads: list[tuple[str, str]] = []
    rows: list[dict[str, str]] = []
    if report is not None:
        heads, rows = table(report.columns, report.rows[:MAX_ROWS], standard=values["standard"], tz=user_timezone(crm))
    extra = {}
    if report is not None and report.extra:
        for key, (columns, extra_rows) in report.extra.items():
            extra[key] = table(columns, extra_rows, standard=True)
    drawable = bool(report is not None and not report.empty and report.chart is not None and may_export)
    body = flask.render_template(
        template,
        **values,
        notes=[say(note) for note in report.notes] if report is not None else [],
        empty_message=say(report.empty_message) if report is not None else "",
        heads=heads,
        rows=rows,
        extra=extra,
        total_rows=len(report.rows) if report is not None else 0,
        max_rows=MAX_ROWS,
        may_export=may_export,
        drawable=drawable,
        query=query,
        grains=[(grain, _(O.GRAIN_LABELS[grain])) for grain in O.GRAINS],
        by_options=[(v, _dimension_labels().get(v, v)) for v in pickers.by] if pickers else [],
        kind_labels=_kind_labels(),
    )
    return body, 400 if values["errors"] else 200


def _dimension_labels() -> dict[str, str]:
    return {
        "region": _("Region"),
        "owner": _("Owner"),
        "product_line": _("Product line"),
        "kind": _("Kind"),
        "country": _("Country"),
    }


def _kind_labels() -> dict[str, str]:
    return {"rfp": _("RFP"), "rfq": _("RFQ"), "appointment": _("Appointment"), "quote": _("Quote"), "sale": _("Sale")}


def report_page(name: str) -> Any:
    """A report: its pickers, its chart, its table, its notes and its downloads."""
    if name == O.FORECAST:
        query = request.query_string.decode("ascii", "replace")
        return flask.redirect(flask.url_for("reports.forecast") + (f"?{query}" if query else ""), 303)
    return _page("analytics/report.html", _run(name))


def forecast_page() -> Any:
    """The sales forecast: quarters ahead, the method chosen per currency, its error on the held-out quarters."""
    return _page("analytics/forecast.html", _run(O.FORECAST))


def _stamp(report: Any) -> str:
    return f"-{report.start.isoformat()}-{report.end.isoformat()}" if report.start and report.end else ""


def _refused(values: dict[str, Any]) -> Any:
    """A download asked with a wrong picker: the report's page with the errors, ``400``."""
    template = "analytics/forecast.html" if values["name"] == O.FORECAST else "analytics/report.html"
    return _page(template, values)


def download_csv(name: str) -> Any:
    """The report's rows as CSV (``analytics.reports.export``)."""
    values = _run(name)
    report = values["report"]
    if report is None:
        return _refused(values)
    text = api().export(report, "csv")
    response = flask.make_response((text + "\n").encode("utf-8"))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{report.name}{_stamp(report)}.csv"'
    return response


#: the chart's own policy: matplotlib's SVG styles itself with a <style> element; nothing in it may run
_SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def _chart_of(report: Any, title: str, standard: bool) -> Any:
    """The report's chart in the user's words: the page's title and range, the columns' headings, its sentences."""
    from babel.dates import format_date

    from crm_analytics.charts import chart_of
    from crm_core.i18n import current_language

    if report.start and report.end:
        days = [format_date(d, format="medium", locale=current_language()) for d in (report.start, report.end)]
        title = f"{title} ({days[0]} – {days[1]})"
    return chart_of(report, title=title, label=lambda column: heading(column, standard), say=_, value_of=value_of)


def chart(name: str, fmt: str) -> Any:
    """The report's chart as PNG or SVG (``analytics.reports.export``); ``?download=1`` saves it as a file."""
    if fmt not in ("png", "svg"):
        raise NotFound(_("Charts are drawn as PNG or SVG."))
    values = _run(name)
    report = values["report"]
    if report is None:
        return _refused(values)
    g.crm.authz.require(EXPORT)
    try:
        data = api().draw_chart(_chart_of(report, values["title"], values["standard"]), fmt)
    except ValidationError as exc:  # nothing to draw (no rows, no numbers): said in words, as the page says it
        return flask.make_response((str(exc), 400, {"Content-Type": "text/plain; charset=utf-8"}))
    response = flask.make_response(data)
    response.headers["Content-Type"] = "image/png" if fmt == "png" else "image/svg+xml"
    if fmt == "svg":
        response.headers["Content-Security-Policy"] = _SVG_POLICY
    disposition = "attachment" if request.args.get("download") == "1" else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{report.name}{_stamp(report)}.{fmt}"'
    return response

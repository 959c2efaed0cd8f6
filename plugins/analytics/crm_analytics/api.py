"""``crm.plugin("analytics")``: the analytics plugin's Python API.

Every report is a method returning a :class:`~crm_analytics.result.Report`
(rows with named columns, notes, a default chart); :meth:`AnalyticsAPI.run`
runs any report by name, standard, saved or contributed by a plugin
(``crm_report_definitions``).

:class:`AnalyticsAPI` is a facade over the services that do the work
(standard reports, custom reports, forecasts, charts, schedules); each
public method checks the permission it needs (see :mod:`crm_analytics.permissions`),
and every report reads the reporting tables limited to the records the
acting user may read (:class:`crm_analytics.sql.Tables`).
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_analytics.charts import Charts
from crm_analytics.custom import CustomReports
from crm_analytics.forecast import Forecasts
from crm_analytics.library import ReportLibrary
from crm_analytics.schedules import Schedules
from crm_analytics.standard import StandardReports
from crm_core.errors import NotFoundError

if TYPE_CHECKING:
    from crm_analytics.definitions import Definition
    from crm_analytics.result import Report
    from crm_core.app import CRM
    from crm_hookspecs.records import Chart

__all__ = ["Analytics", "AnalyticsAPI", "ReportInfo"]

RUN = "analytics.reports.run"
EXPORT = "analytics.reports.export"
CREATE = "analytics.reports.create"
EDIT = "analytics.reports.edit"
SCHEDULES_READ = "analytics.schedules.read"
SCHEDULES_SEND = "analytics.schedules.send"


class ReportInfo(dict[str, str]):
    """One line of :meth:`AnalyticsAPI.list`: ``name``, ``kind`` (standard, saved or the plugin), ``title``."""


class AnalyticsAPI:
    """The analytics plugin of one app."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._forecasts = Forecasts(crm)
        self._standard = StandardReports(crm, self._forecasts)
        self._custom = CustomReports(crm)
        self._library = ReportLibrary(self._standard, self._custom)
        self._charts = Charts()
        self._schedules = Schedules(crm, self._library, self._charts)

    def __repr__(self) -> str:
        return f"<AnalyticsAPI of {self.crm!r}>"

    def _require(self, permission: str) -> None:
        self.crm.authz.require(permission)

    # -- standard reports ------------------------------------------------------

    def _standard_report(self, name: str, **options: Any) -> Report:
        self._require(RUN)
        return self._standard.run(name, **options)

    def closed_share(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Share of sales won per quarter, by count and amount, with the lost and open ones."""
        return self._standard_report("closed-share", start=start, end=end, **options)

    def sales(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Sales won per period by region (``by=("owner",)``, ``("product_line",)``…)."""
        return self._standard_report("sales", start=start, end=end, **options)

    def pipeline(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Open value per stage now; conversion and days in stage of the records created in the range."""
        return self._standard_report("pipeline", start=start, end=end, **options)

    def surveys(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """NPS, CSAT and response rates per quarter (and region)."""
        return self._standard_report("surveys", start=start, end=end, **options)

    def customers(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Contacts per status at each period's end by region/country, customers gained and lost."""
        return self._standard_report("customers", start=start, end=end, **options)

    def staff(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Calls, meetings, notes, e-mails and tasks completed per staff member and period."""
        return self._standard_report("staff", start=start, end=end, **options)

    def forecast(self, **options: Any) -> Report:
        """Sales forecast for the next quarters: weighted open pipeline and history (Holt-Winters)."""
        self._require(RUN)
        return self._forecasts.forecast(**options)

    # -- any report by name ----------------------------------------------------

    def definitions(self) -> dict[str, Definition]:
        """Custom reports by name: saved ones and those plugins contribute."""
        self._require(RUN)
        return self._custom.definitions()

    def saved(self) -> builtins.list[dict[str, Any]]:
        """The saved custom reports: ``name``, ``title``, ``saved_by``, ``updated_at`` and ``editable``.

        ``editable`` says whether the acting user may replace or remove it
        (``analytics.reports.edit`` over its creator: a seller, the reports
        they saved), worked out in the same query.
        """
        self._require(RUN)
        return self._custom.saved(EDIT)

    def source(self, name: str) -> str:
        """The TOML text of saved report ``name`` (what ``crm reports add`` was given); ``NotFoundError`` if none."""
        self._require(RUN)
        return self._custom.source(name)

    def list(self) -> list[dict[str, str]]:
        """Every report that :meth:`run` knows: standard ones first, then custom ones by name."""
        self._require(RUN)
        return self._library.list()

    def run(
        self, name: str, start: Any = None, end: Any = None, *, period: str | None = None, **options: Any
    ) -> Report:
        """Run a report by name: standard (with its options), saved, or a plugin's."""
        self._require(RUN)
        return self._library.run(name, start, end, period=period, **options)

    def run_definition(
        self, definition: Definition, start: Any = None, end: Any = None, *, period: str | None = None
    ) -> Report:
        """Run a validated definition (from :meth:`check`) without saving it."""
        self._require(RUN)
        return self._custom.run(definition, start, end, period=period)

    def run_file(self, path: str | Path, start: Any = None, end: Any = None, *, period: str | None = None) -> Report:
        """Validate and run a report file (TOML) without saving it."""
        self._require(RUN)
        return self._custom.run(self._custom.load(path), start, end, period=period)

    def check(self, source: str | Path | Mapping[str, Any]) -> Definition:
        """Validate a report definition (a file path or a dict); raise ``ValidationError`` naming the problem."""
        self._require(RUN)
        return self._custom.check(source)

    def save(self, path: str | Path, *, actor: str | None = None, replace: bool = False) -> Definition:
        """Validate a report file and save it under its name (``crm reports add``).

        ``actor`` (who created it, the report's owner) defaults to the acting
        user's name; ``replace`` (overwriting a saved report) needs
        ``analytics.reports.edit`` too, over the report replaced.
        """
        self._require(CREATE)
        if replace:
            self._require(EDIT)
            try:
                owner = self._custom.creator(self._custom.load(path).name)
            except NotFoundError:
                pass  # nothing is saved under that name: replacing adds it
            else:
                self.crm.authz.require(EDIT, record_owner=owner)
        if actor is None:
            user = self.crm.current_user
            actor = user.name if user is not None else None
        return self._custom.save(path, actor=actor, replace=replace)

    def save_definition(
        self, data: Mapping[str, Any], *, actor: str | None = None, replace: bool = False
    ) -> Definition:
        """Validate a definition given as a dict (a report file's keys) and save it, as :meth:`save` does a file."""
        self._require(CREATE)
        name = data.get("name") if isinstance(data, Mapping) else None
        if replace:
            self._require(EDIT)
            if isinstance(name, str):
                try:
                    owner = self._custom.creator(name)
                except NotFoundError:
                    pass  # nothing is saved under that name: replacing adds it
                else:
                    self.crm.authz.require(EDIT, record_owner=owner)
        if actor is None:
            user = self.crm.current_user
            actor = user.name if user is not None else None
        return self._custom.save_mapping(data, actor=actor, replace=replace)

    def remove(self, name: str) -> None:
        """Remove a saved report (``analytics.reports.edit`` over it: a seller removes the reports they saved)."""
        self._require(EDIT)
        self.crm.authz.require(EDIT, record_owner=self._custom.creator(name))
        self._custom.remove(name)

    # -- results: charts and exports -------------------------------------------

    def chart(
        self,
        report: Report,
        path: str | Path | None = None,
        *,
        kind: str | None = None,
        fmt: str | None = None,
        measures: Any = None,
    ) -> bytes:
        """Draw ``report`` as a PNG or SVG chart; write it to ``path`` when given; return the bytes."""
        self._require(EXPORT)
        return self._charts.draw(report, path, kind=kind, fmt=fmt, measures=measures)

    def draw_chart(self, chart: Chart, fmt: str = "svg") -> bytes:
        """Draw a chart another plugin made (``ChartsAPI``): its figures and words, the reports' look.

        Needs ``analytics.reports.run`` (charts are drawn for who may run
        reports); reads no records. A chart with no value, or more series
        than :data:`~crm_analytics.charts.MAX_SERIES`, is a ``ValidationError``.
        """
        self._require(RUN)
        return self._charts.render(chart, fmt)

    def export(self, report: Report, fmt: str = "csv") -> str:
        """``report``'s rows as CSV or JSON text (``table`` too), as ``crm reports … --format`` prints them."""
        self._require(EXPORT)
        return report.render(fmt)

    # -- schedules -------------------------------------------------------------

    def schedules(self) -> builtins.list[dict[str, Any]]:
        """The configured schedules with their last delivery."""
        self._require(SCHEDULES_READ)
        return self._schedules.status()

    def send(self, schedule: str, when: dt.datetime | None = None) -> dict[str, Any]:
        """Send a scheduled report now, as the worker would for the occurrence ``when`` (default: now).

        The report runs as the schedule's ``run_as`` user when it names one,
        else as the caller (the system, for the worker).
        """
        self._require(SCHEDULES_SEND)
        return self._schedules.send(schedule, when)


Analytics = AnalyticsAPI  # deprecated alias until contract 2.0

"""``crm.plugin("analytics")``: the analytics plugin's Python API.

Every report is a method returning a :class:`~crm_analytics.result.Report`
(rows with named columns, notes, a default chart); :meth:`Analytics.run`
runs any report by name, standard, saved or contributed by a plugin
(``crm_report_definitions``).
"""

from __future__ import annotations

import builtins
import datetime as dt
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_analytics.reports import STANDARD
from crm_analytics.result import Report
from crm_core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from crm_analytics.custom import Definition
    from crm_core.app import CRM

__all__ = ["Analytics", "ReportInfo"]


class ReportInfo(dict[str, str]):
    """One line of :meth:`Analytics.list`: ``name``, ``kind`` (standard, saved or the plugin), ``title``."""


class Analytics:
    """The analytics plugin of one app."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    # -- standard reports ------------------------------------------------------

    def _standard(self, name: str, **options: Any) -> Report:
        module, function, _ = STANDARD[name]
        fn = getattr(importlib.import_module(module), function)
        with self.crm.activate():
            report: Report = fn(self.crm, **options)
            return report

    def closed_share(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Share of sales won per quarter, by count and amount, with the lost and open ones."""
        return self._standard("closed-share", start=start, end=end, **options)

    def sales(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Sales won per period by region (``by=("owner",)``, ``("product_line",)``…)."""
        return self._standard("sales", start=start, end=end, **options)

    def pipeline(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Open value per stage now; conversion and days in stage of the records created in the range."""
        return self._standard("pipeline", start=start, end=end, **options)

    def surveys(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """NPS, CSAT and response rates per quarter (and region)."""
        return self._standard("surveys", start=start, end=end, **options)

    def customers(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Contacts per status at each period's end by region/country, customers gained and lost."""
        return self._standard("customers", start=start, end=end, **options)

    def staff(self, start: Any = None, end: Any = None, **options: Any) -> Report:
        """Calls, meetings, notes, e-mails and tasks completed per staff member and period."""
        return self._standard("staff", start=start, end=end, **options)

    def forecast(self, **options: Any) -> Report:
        """Sales forecast for the next quarters: weighted open pipeline and history (Holt-Winters)."""
        return self._standard("forecast", **options)

    # -- any report by name ----------------------------------------------------

    def definitions(self) -> dict[str, Definition]:
        """Custom reports by name: saved ones and those plugins contribute."""
        from crm_analytics.custom import all_definitions

        with self.crm.activate():
            return all_definitions(self.crm)

    def list(self) -> list[dict[str, str]]:
        """Every report that :meth:`run` knows: standard ones first, then custom ones by name."""
        out = [{"name": name, "kind": "standard", "title": text} for name, (_, _, text) in STANDARD.items()]
        for name, definition in sorted(self.definitions().items()):
            out.append({"name": name, "kind": definition.origin, "title": definition.title})
        return out

    def run(
        self, name: str, start: Any = None, end: Any = None, *, period: str | None = None, **options: Any
    ) -> Report:
        """Run a report by name: standard (with its options), saved, or a plugin's."""
        if name in STANDARD:
            if name == "forecast":
                return self.forecast(**options)
            if period is not None:
                options["period"] = period
            return self._standard(name, start=start, end=end, **options)
        definitions = self.definitions()
        if name not in definitions:
            known = ", ".join([*STANDARD, *sorted(definitions)])
            raise NotFoundError(f"there is no report {name!r:.80}; the reports are: {known} ('crm reports list')")
        if options:
            raise ValidationError(
                f"report {name!r} is a custom report; it takes --from, --to and --period only, not {', '.join(options)}"
            )
        return self.run_definition(definitions[name], start, end, period=period)

    def run_definition(
        self, definition: Definition, start: Any = None, end: Any = None, *, period: str | None = None
    ) -> Report:
        from crm_analytics.custom import run

        with self.crm.activate():
            return run(self.crm, definition, start, end, period=period)

    def run_file(self, path: str | Path, start: Any = None, end: Any = None, *, period: str | None = None) -> Report:
        """Validate and run a report file (TOML) without saving it."""
        from crm_analytics.custom import load_file

        return self.run_definition(load_file(self.crm, path), start, end, period=period)

    def check(self, source: str | Path | Mapping[str, Any]) -> Definition:
        """Validate a report definition (a file path or a dict); raise ``ValidationError`` naming the problem."""
        from crm_analytics.custom import load_file, parse

        if isinstance(source, Mapping):
            return parse(self.crm, source, origin="given")
        return load_file(self.crm, source)

    def save(self, path: str | Path, *, actor: str | None = None, replace: bool = False) -> Definition:
        """Validate a report file and save it under its name (``crm reports add``)."""
        from crm_analytics.custom import save

        return save(self.crm, path, actor=actor, replace=replace)

    def remove(self, name: str) -> None:
        from crm_analytics.custom import remove

        remove(self.crm, name)

    # -- charts and schedules -------------------------------------------------

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
        from crm_analytics.charts import draw

        return draw(report, path, kind=kind, fmt=fmt, measures=measures)

    def schedules(self) -> builtins.list[dict[str, Any]]:
        """The configured schedules with their last delivery."""
        from crm_analytics.schedules import status

        return status(self.crm)

    def send(self, schedule: str, when: dt.datetime | None = None) -> dict[str, Any]:
        """Send a scheduled report now, as the worker would for the occurrence ``when`` (default: now)."""
        from crm_analytics.schedules import send_now

        return send_now(self.crm, schedule, when)

"""Reports e-mailed on a recurrence by ``crm worker``, with the CSV and a chart attached.

Each ``[[plugins.analytics.schedules]]`` table becomes a worker job
``analytics.report.<name>`` with its RFC 5545 rule (in the app's time
zone). The worker claims each occurrence once; the message's key is the
schedule and the occurrence (``analytics.schedule:<name>:<time>``), so an
occurrence run again (a worker that died mid-way) queues nothing twice. The
report covers a range relative to the occurrence (``previous-quarter``,
``previous-year``…), resolved in the app's time zone and fiscal year.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crm_analytics import periods as P
from crm_core.errors import NotFoundError, PluginError, ValidationError

if TYPE_CHECKING:
    from crm_analytics.charts import Charts
    from crm_analytics.library import ReportLibrary
    from crm_analytics.settings import Schedule
    from crm_core.app import CRM

__all__ = ["Schedules", "resolve_range", "worker_jobs"]


def resolve_range(name: str, day: dt.date, fiscal: int = 1) -> tuple[dt.date, dt.date]:
    """The local days a relative range covers for an occurrence on ``day`` (both included)."""
    one = dt.timedelta(days=1)
    if name.startswith("previous-"):
        grain = name.split("-", 1)[1]
        this = P._grain_start(day, grain, fiscal)
        prev = P._grain_start(this - one, grain, fiscal)
        return prev, this - one
    if name.endswith("-to-date"):
        grain = name.split("-", 1)[0]
        return P._grain_start(day, grain, fiscal), day
    if name == "last-4-quarters":
        this = P._grain_start(day, "quarter", fiscal)
        start = this
        for _ in range(4):
            start = P._grain_start(start - one, "quarter", fiscal)
        return start, this - one
    if name == "last-12-months":
        this = day.replace(day=1)
        return dt.date(this.year - 1, this.month, 1), this - one
    raise ValueError(f"unknown range {name!r}")


def _key(schedule: Schedule, occurrence: dt.datetime) -> str:
    return f"analytics.schedule:{schedule.name}:{occurrence.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}"


class Schedules:
    """The scheduled reports of ``[[plugins.analytics.schedules]]``: sending them and their deliveries."""

    def __init__(self, crm: CRM, library: ReportLibrary, charts: Charts) -> None:
        self.crm = crm
        self._library = library
        self._charts = charts

    def get(self, name: str) -> Schedule:
        """The schedule called ``name``; ``NotFoundError`` listing the configured ones."""
        schedules: list[Schedule] = self.crm.settings("analytics").schedules
        for schedule in schedules:
            if schedule.name == name:
                return schedule
        names = ", ".join(s.name for s in schedules) or "none are configured"
        raise NotFoundError(f"there is no schedule {name!r} in [[plugins.analytics.schedules]] ({names})")

    @contextlib.contextmanager
    def acting(self, schedule: Schedule) -> Iterator[None]:
        """Run the block as the schedule's ``run_as`` user, or as whoever acts when it names none."""
        if schedule.run_as is None:
            yield
            return
        with self.crm.as_user(schedule.run_as):
            yield

    def send(self, name: str, when: dt.datetime | None = None) -> dict[str, Any]:
        """Send schedule ``name``'s report as for the occurrence ``when`` (default: now); once per occurrence."""
        schedule = self.get(name)
        occurrence = when or self.crm.clock.now()
        if occurrence.tzinfo is None:
            raise ValidationError(f"the occurrence {occurrence.isoformat()} needs a time zone")
        return self._send(schedule, occurrence)

    def _send(self, schedule: Schedule, occurrence: dt.datetime) -> dict[str, Any]:
        from crm_analytics.models import Delivery
        from crm_core.mail import Attachment

        crm = self.crm
        local = occurrence.astimezone(crm.tz)
        start, end = resolve_range(schedule.range, local.date(), crm.settings("analytics").fiscal_year_start)
        options = dict(schedule.options)
        with self.acting(schedule):
            # the mail carries the report's rows as CSV: running it is an export, in the sender's scope
            crm.authz.require("analytics.reports.run")
            crm.authz.require("analytics.reports.export")
            if schedule.report == "forecast":
                report = self._library.run(schedule.report, **options)
            else:
                report = self._library.run(schedule.report, start, end, period=schedule.period, **options)
        stamp = f"{report.name}-{start.isoformat()}-{end.isoformat()}"
        attachments = [Attachment(f"{stamp}.csv", report.to_csv(), "text/csv")]
        chart_note = ""
        if schedule.chart != "none" and not report.empty and report.chart is not None:
            data = self._charts.draw(report, kind=schedule.chart, fmt=schedule.chart_format)
            attachments.append(
                Attachment(
                    f"{stamp}.{schedule.chart_format}",
                    data,
                    "image/png" if schedule.chart_format == "png" else "image/svg+xml",
                )
            )
            chart_note = " and a chart"
        subject = schedule.subject or f"{report.title}, {start.isoformat()} to {end.isoformat()}"
        lines = [f"{report.title}: {start.isoformat()} to {end.isoformat()} ({crm.config.core.timezone})", ""]
        if report.empty:
            lines.append(report.empty_message)
        else:
            lines += [report.render("table"), "", f"{len(report.rows)} row(s); the CSV{chart_note} are attached."]
        lines += [*(["", *report.notes] if report.notes else []), "", f"Sent by the CRM's schedule {schedule.name!r}."]
        key = _key(schedule, occurrence)
        now = crm.clock.now()
        with crm.transaction():
            queued = crm.mail.queue(list(schedule.to), subject, "\n".join(lines), attachments=attachments, key=key)
            if queued is not None:
                Delivery.insert(
                    schedule=schedule.name, report=report.name, scheduled_at=occurrence, range_from=start, range_to=end,
                    rows=len(report.rows), message_key=key, recipients=json.dumps(list(schedule.to)), created_at=now,
                ).on_conflict_ignore().execute()  # fmt: skip
        return {
            "schedule": schedule.name,
            "report": report.name,
            "from": start,
            "to": end,
            "rows": len(report.rows),
            "key": key,
            "status": "queued" if queued is not None else "already queued",
        }

    def status(self) -> list[dict[str, Any]]:
        """The configured schedules with their last delivery and next occurrence."""
        from crm_analytics.models import Delivery
        from crm_core.recurrence import parse

        crm = self.crm
        out = []
        now = crm.clock.now()
        with crm.activate():
            for schedule in crm.settings("analytics").schedules:
                last = (
                    Delivery.select()
                    .where(Delivery.schedule == schedule.name)
                    .order_by(Delivery.scheduled_at.desc())
                    .first()
                )
                upcoming = parse(schedule.rule, tz=crm.tz).after(now)
                out.append({
                    "name": schedule.name, "report": schedule.report, "rule": schedule.rule, "range": schedule.range,
                    "to": ", ".join(schedule.to), "run_as": schedule.run_as,
                    "last_sent_for": last.scheduled_at.astimezone(crm.tz).isoformat() if last else None,
                    "last_rows": last.rows if last else None,
                    "next": upcoming.astimezone(crm.tz).isoformat() if upcoming else None,
                })  # fmt: skip
        return out


def worker_jobs(crm: CRM) -> list[Any]:
    """One worker job per schedule, each sending through ``crm.plugin("analytics").send``."""
    from crm_hookspecs.records import JobSpec

    schedules = crm.settings("analytics").schedules
    if not schedules:
        return []
    analytics = crm.plugin("analytics")
    known = {row["name"] for row in analytics.list()}
    jobs = []
    for schedule in schedules:
        if schedule.report not in known:
            raise PluginError(
                "analytics",
                f"schedule {schedule.name!r} names the report {schedule.report!r}, which does not exist; "
                f"the reports are: {', '.join(sorted(known))} (fix [[plugins.analytics.schedules]])",
            )

        def run(crm: CRM, scheduled_at: dt.datetime, schedule: Schedule = schedule) -> str:
            result = crm.plugin("analytics").send(schedule.name, scheduled_at)
            return f"{result['report']} {result['from']}..{result['to']}: {result['rows']} row(s) {result['status']} for {', '.join(schedule.to)}"

        jobs.append(JobSpec(f"analytics.report.{schedule.name}", run, rrule=schedule.rule, catch_up="once"))
    return jobs

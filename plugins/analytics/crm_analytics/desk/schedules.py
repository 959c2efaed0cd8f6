"""The scheduled reports page: each schedule, its recipients, its last delivery and next occurrence; send one now.

Schedules live in the configuration (``[[plugins.analytics.schedules]]``),
so the page lists them (``analytics.schedules.read``) and sends one now
(``analytics.schedules.send``, POST with the CSRF token); adding or removing
a schedule or a recipient is a change to the configuration file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask
from flask import g

from crm_analytics.desk.views import api
from crm_core.i18n import gettext as _

__all__ = ["schedule_list", "send_now"]


def _when(text: str | None) -> str:
    from crm_analytics.desk.formatting import cell

    if not text:
        return ""
    return cell("when", dt.datetime.fromisoformat(text), {}, g.crm.tz)


def schedule_list() -> Any:
    """Every configured schedule: report, rule, range, recipients, runs as, last delivery, next occurrence."""
    found = api().schedules()  # checks analytics.schedules.read
    heads = [
        ("name", _("Schedule")),
        ("report", _("Report")),
        ("rule", _("Recurrence")),
        ("range", _("Range")),
        ("to", _("Recipients")),
        ("run_as", _("Runs as")),
        ("last", _("Last sent for")),
        ("next", _("Next")),
    ]
    rows = []
    for row in found:
        last = _when(row["last_sent_for"])
        if last and row["last_rows"] is not None:
            last = _("%(when)s (%(rows)s rows)", when=last, rows=row["last_rows"])
        rows.append({**row, "run_as": row["run_as"] or _("the system"), "last": last, "next": _when(row["next"])})
    return flask.render_template(
        "analytics/schedules.html",
        heads=heads,
        schedules=rows,
        may_send=g.crm.authz.can("analytics.schedules.send"),
    )


def send_now(name: str) -> Any:
    """Send schedule ``name``'s report now (once per occurrence), then back to the list with what happened."""
    sent = api().send(name)
    if sent["status"] == "queued":
        flask.flash(
            _("Sent: %(report)s, %(rows)s rows, queued for the recipients.", report=sent["report"], rows=sent["rows"]),
            "success",
        )
    else:
        flask.flash(_("%(report)s was already queued for this time.", report=sent["report"]), "success")
    return flask.redirect(flask.url_for("reports.schedules"), 303)

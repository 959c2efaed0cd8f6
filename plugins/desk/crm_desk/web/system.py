"""Administration, the system part: plugins, checks and migrations; the mail queue; the worker's jobs; event failures.

Every page needs ``admin.system``. The pages show what ``crm plugins``,
``crm doctor``, ``crm migrate --dry-run``, ``crm mail queue``, ``crm worker
status`` and ``crm events failed`` show, through the same kernel functions;
the only actions are retrying failed mail (``crm.mail.retry``) and failed
event deliveries (``crm.events.retry``), which check ``admin.system`` too.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import g

from crm_core.errors import NotFoundError, ValidationError
from crm_core.i18n import gettext as _
from crm_desk.web.render import page

__all__ = ["RULES"]

#: the number of failed mails, job runs shown
SHOWN = 50


def _require() -> None:
    g.crm.authz.require("admin.system")


def system() -> Any:
    """The plugins (as ``crm plugins``), the doctor's checks and the pending migrations."""
    from crm_core.cli.main import KERNEL_COMMANDS
    from crm_core.doctor import run_checks
    from crm_core.errors import CRMError
    from crm_core.plugins.report import plugin_rows

    _require()
    crm = g.crm
    plugins = plugin_rows(crm.plugins)
    checks = list(run_checks(crm.config, lambda: crm, kernel_commands=KERNEL_COMMANDS))
    pending: list[str] = []
    pending_error = None
    try:
        pending = [f"{step.owner}/{step.name}" for step in crm.pending_migrations()]
    except CRMError as exc:
        pending_error = str(exc)
    return page(
        "desk/admin/system.html",
        plugins=plugins,
        checks=checks,
        problems=sum(1 for c in checks if not c.ok and not c.warning),
        pending=pending,
        pending_error=pending_error,
    )


def mail() -> Any:
    """The mail queue: how many messages in each status, the failed ones with their error, those waiting."""
    _require()
    crm = g.crm
    return page(
        "desk/admin/mail.html",
        counts=crm.mail.counts(),
        failed=crm.mail.list("failed", limit=SHOWN),
        waiting=crm.mail.list(["queued", "sending"], limit=SHOWN),
        now=crm.clock.now(),
    )


def mail_retry_all() -> Any:
    """Queue every failed message again (POST)."""
    _require()
    count = g.crm.mail.retry()
    flask.flash(_("%(count)s failed message(s) are queued again.", count=count), "success")
    return flask.redirect(flask.url_for("admin.mail"))


def mail_retry(message_id: int) -> Any:
    """Queue one failed message again (POST)."""
    _require()
    try:
        g.crm.mail.retry([message_id])
    except ValidationError as exc:
        flask.flash(str(exc), "error")
    else:
        flask.flash(_("Message %(id)s is queued again.", id=message_id), "success")
    return flask.redirect(flask.url_for("admin.mail"))


def jobs() -> Any:
    """The worker's jobs (schedule, last run and status, next run, last error) and the latest failed runs."""
    from crm_core.worker import failed_runs, status

    _require()
    crm = g.crm
    return page("desk/admin/jobs.html", jobs=status(crm), failures=failed_runs(crm, SHOWN))


def events() -> Any:
    """Each handler's position and pending events, and the failed deliveries with their handler and error."""
    _require()
    crm = g.crm
    return page("desk/admin/events.html", handlers=crm.events.status(), failures=crm.events.failed())


def _retried(report: Any) -> None:
    if report.failed:
        flask.flash(
            _(
                "%(ok)s delivered, %(failed)s failed again: the error below says why.",
                ok=report.retried_ok,
                failed=report.failed,
            ),
            "error",
        )
    else:
        flask.flash(_("%(ok)s delivered.", ok=report.retried_ok), "success")


def events_retry_all() -> Any:
    """Re-deliver every failed delivery now, whatever its back-off (POST)."""
    _require()
    _retried(g.crm.events.retry(due_only=False))
    return flask.redirect(flask.url_for("admin.events"))


def events_retry(failure_id: int) -> Any:
    """Re-deliver one failed delivery now (POST)."""
    _require()
    try:
        report = g.crm.events.retry(failures=[failure_id])
    except (NotFoundError, ValidationError) as exc:
        flask.flash(str(exc), "error")
    else:
        _retried(report)
    return flask.redirect(flask.url_for("admin.events"))


#: (rule, view, methods) added to the administration's blueprint
RULES: list[tuple[str, Any, list[str]]] = [
    ("/system", system, ["GET"]),
    ("/mail", mail, ["GET"]),
    ("/mail/retry", mail_retry_all, ["POST"]),
    ("/mail/<int:message_id>/retry", mail_retry, ["POST"]),
    ("/jobs", jobs, ["GET"]),
    ("/events", events, ["GET"]),
    ("/events/retry", events_retry_all, ["POST"]),
    ("/events/<int:failure_id>/retry", events_retry, ["POST"]),
]

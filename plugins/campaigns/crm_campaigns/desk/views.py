"""The campaigns pages (a Flask blueprint): the list, a campaign with its preview and sends, the form, the sends.

Imported only by the desk (through :mod:`crm_campaigns.desk`). Each view
reads and writes through ``flask.g.crm.plugin("campaigns")`` as the
signed-in user, so the plugin's permissions decide what a user sees and may
do: a seller may write and test campaigns, a manager sends them. A form that
fails comes back with its error beside the field (``400``), what was typed
kept.

The HTML part is previewed in a frame that loads ``/campaigns/<id>/frame``:
that answer carries a policy of its own (``sandbox``, no scripts, images
from anywhere), so a campaign's markup is shown as a mail program would
show it and can run nothing in the desk.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import flask
from flask import g, request

from crm_core import web
from crm_core.errors import CRMError, NotFoundError, PermissionDenied, ValidationError
from crm_core.i18n import gettext as _

__all__ = ["blueprint"]

#: how many sends the list page shows (the CLI and the API page through them all)
RECENT_SENDS = 20
FORM_FIELDS = ("name", "subject", "text", "html")
MONTHLY = "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0"
#: what the preview frame may load: images from anywhere, its own inline styles, nothing else
FRAME_POLICY = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
)


def blueprint() -> flask.Blueprint:
    """The campaigns pages, mounted by the desk at ``/campaigns``."""
    page = flask.Blueprint("campaigns", __name__, static_folder="static", static_url_path="/static")
    page.add_url_rule("/", "index", index)
    page.add_url_rule("/new", "new", new, methods=["GET", "POST"])
    page.add_url_rule("/<int:campaign_id>", "campaign", campaign_page)
    page.add_url_rule("/<int:campaign_id>/edit", "edit", edit, methods=["GET", "POST"])
    page.add_url_rule("/<int:campaign_id>/frame", "frame", frame)
    page.add_url_rule("/<int:campaign_id>/test", "test", send_test, methods=["POST"])
    page.add_url_rule("/<int:campaign_id>/send", "send", send_now, methods=["POST"])
    page.add_url_rule("/<int:campaign_id>/schedule", "schedule", schedule, methods=["POST"])
    page.add_url_rule("/<int:campaign_id>/recur", "recur", recur, methods=["POST"])
    page.add_url_rule("/sends/<int:send_id>/cancel", "cancel", cancel, methods=["POST"])
    page.add_url_rule("/recurring/<int:recurring_id>/stop", "stop", stop, methods=["POST"])
    page.context_processor(_helpers)
    return page


# -- helpers ----------------------------------------------------------------------


def _api() -> Any:
    return g.crm.plugin("campaigns")


def _helpers() -> dict[str, Any]:
    return {"status_label": _status_label, "status_tone": _status_tone}


def _status_label(status: str) -> str:
    return {
        "scheduled": _("scheduled"),
        "sending": _("sending"),
        "sent": _("sent"),
        "cancelled": _("cancelled"),
    }.get(status, status)


def _status_tone(status: str) -> str:
    return {"scheduled": "accent", "sending": "warning", "sent": "success"}.get(status, "neutral")


def _user_zone() -> dt.tzinfo:
    name = getattr(g.get("user"), "timezone", None)
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    tz: dt.tzinfo = g.crm.tz
    return tz


def _parse_local(text: str) -> dt.datetime:
    """A date and time typed in the user's time zone (the browser's ``datetime-local``: 2026-12-01T09:00)."""
    value = dt.datetime.fromisoformat(text.strip().replace(" ", "T"))
    return value if value.tzinfo else value.replace(tzinfo=_user_zone())


def _field_error(exc: CRMError, default: str) -> tuple[str, str]:
    """The form field a refusal is about (its ``field``, else ``default``) and the message."""
    return getattr(exc, "field", None) or default, str(exc)


def _lists() -> list[str]:
    """The mailing lists, with their members, for the send forms' hint ([] for a user who may not read them)."""
    try:
        infos = g.crm.plugin("contacts").lists()
    except PermissionDenied:
        return []
    return [
        _(
            "%(name)s (%(members)s members, %(unsubscribed)s unsubscribed)",
            name=i.name,
            members=i.members,
            unsubscribed=i.unsubscribed,
        )
        for i in infos
    ]


def _to_page(campaign_id: int) -> Any:
    """After a send form: back to the campaign page, at its top (``#main``), where the flash and the sends are.

    The forms post to ``…#send`` so that an answer with an error or the
    confirmation opens at the send forms; the redirect names its own
    fragment, or the browser would keep that one.
    """
    return flask.redirect(flask.url_for("campaigns.campaign", campaign_id=campaign_id) + "#main", 303)


def _with_frame(body: str, status: int = 200) -> Any:
    """A page that shows the preview frame: the desk's policy, with frames from the desk itself allowed."""
    response = flask.make_response(body, status)
    response.headers["Content-Security-Policy"] = web.content_security_policy() + "; frame-src 'self'"
    return response


# -- the list ----------------------------------------------------------------------


def index() -> Any:
    """Every campaign, and the latest sends with their counts."""
    crm = g.crm
    api = _api()
    return flask.render_template(
        "campaigns/index.html",
        campaigns=api.list(),
        sends=api.sends(limit=RECENT_SENDS),
        may_create=crm.authz.can("campaigns.create"),
    )


# -- the form ---------------------------------------------------------------------


def _form_page(
    form: dict[str, str], errors: dict[str, str], *, campaign: Any = None, preview: Any = None, status: int = 200
) -> Any:
    body = flask.render_template("campaigns/form.html", form=form, errors=errors, campaign=campaign, preview=preview)
    return body, status


def _read_form() -> dict[str, str]:
    return {name: request.form.get(name, "").replace("\r\n", "\n") for name in FORM_FIELDS}


def _form_errors(form: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not form["name"].strip():
        errors["name"] = _("Give the campaign a name, such as “November newsletter”.")
    if not form["subject"].strip():
        errors["subject"] = _("Write a subject; it may use the contact's fields, such as {{ first_name }}.")
    if not form["text"].strip():
        errors["text"] = _("Write the text part: every mail program shows it.")
    return errors


def _preview_or_errors(form: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """The form's templates rendered for the sample contact, or the error beside the part at fault."""
    try:
        return _api().preview(subject=form["subject"], text=form["text"], html=form["html"] or None), {}
    except ValidationError as exc:
        field, message = _field_error(exc, "text")
        return None, {field: message}


def new() -> Any:
    """GET: the empty form; POST: preview it (``action=preview``) or save it."""
    crm = g.crm
    crm.authz.require("campaigns.create")
    if request.method == "GET":
        return _form_page({name: "" for name in FORM_FIELDS}, {})
    form = _read_form()
    errors = _form_errors(form)
    if errors:
        return _form_page(form, errors, status=400)
    preview, errors = _preview_or_errors(form)
    if errors or request.form.get("action") == "preview":
        return _form_page(form, errors, preview=preview, status=400 if errors else 200)
    try:
        made = _api().create(form["name"], form["subject"], form["text"], form["html"] or None)
    except ValidationError as exc:
        field, message = _field_error(exc, "name")
        return _form_page(form, {field: message}, status=400)
    flask.flash(_("Campaign saved: %(name)s", name=made.name), "success")
    return flask.redirect(flask.url_for("campaigns.campaign", campaign_id=made.id), 303)


def edit(campaign_id: int) -> Any:
    """GET: the campaign in the form; POST: preview the changes or save them."""
    crm = g.crm
    crm.authz.require("campaigns.edit")
    api = _api()
    campaign = api.get(campaign_id)
    if request.method == "GET":
        form = {"name": campaign.name, "subject": campaign.subject, "text": campaign.text, "html": campaign.html or ""}
        return _form_page(form, {}, campaign=campaign)
    form = _read_form()
    errors = _form_errors(form)
    if errors:
        return _form_page(form, errors, campaign=campaign, status=400)
    preview, errors = _preview_or_errors(form)
    if errors or request.form.get("action") == "preview":
        return _form_page(form, errors, campaign=campaign, preview=preview, status=400 if errors else 200)
    if request.form.get("revision", "") != str(campaign.revision):
        message = _(
            "Someone changed this campaign while you were editing it. Your text is kept below: compare it with the campaign, then save again."
        )
        return _form_page(form, {"form": message}, campaign=api.get(campaign_id), status=409)
    try:
        changed = api.update(
            campaign_id, name=form["name"], subject=form["subject"], text=form["text"], html=form["html"] or None
        )
    except ValidationError as exc:
        field, message = _field_error(exc, "name")
        return _form_page(form, {field: message}, campaign=campaign, status=400)
    flask.flash(_("Campaign saved: %(name)s", name=changed.name), "success")
    return flask.redirect(flask.url_for("campaigns.campaign", campaign_id=campaign_id), 303)


# -- one campaign ------------------------------------------------------------------


def _contact_arg() -> int | None:
    text = request.args.get("contact_id", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _campaign_page(
    campaign_id: int,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    confirm: Any = None,
) -> Any:
    crm = g.crm
    api = _api()
    campaign = api.get(campaign_id)
    contact_id = _contact_arg()
    preview = None
    preview_error = None
    try:
        preview = api.preview(campaign_id, contact_id)
    except NotFoundError:
        preview_error = _(
            "There is no contact %(id)s that you may see; the preview uses the sample contact.", id=contact_id
        )
        preview = api.preview(campaign_id)
    except PermissionDenied as exc:
        if not exc.record:
            raise
        preview_error = _(
            "There is no contact %(id)s that you may see; the preview uses the sample contact.", id=contact_id
        )
        preview = api.preview(campaign_id)
    except ValidationError as exc:
        preview_error = str(exc)
    may_send = api.can_send()
    body = flask.render_template(
        "campaigns/campaign.html",
        campaign=campaign,
        preview=preview,
        preview_error=preview_error,
        contact_id=contact_id,
        sends=api.sends(campaign_id),
        recurring=api.recurring(campaign_id),
        may_edit=crm.authz.can("campaigns.edit"),
        may_send=may_send,
        lists=_lists() if may_send else [],
        errors=errors or {},
        form={"rule": MONTHLY, **(form or {})},
        has_email=bool(getattr(g.user, "email", None)),
        confirm=confirm,
    )
    return _with_frame(body, status)


def campaign_page(campaign_id: int) -> Any:
    """A campaign: its preview (for the sample contact or ``?contact_id=``), a test, the send forms, its sends."""
    return _campaign_page(campaign_id)


def frame(campaign_id: int) -> Any:
    """The HTML part rendered for the preview's contact, to show in the campaign page's frame."""
    api = _api()
    try:
        shown = api.preview(campaign_id, _contact_arg())
    except (NotFoundError, ValidationError):
        shown = None
    except PermissionDenied as exc:
        if not exc.record:
            raise
        shown = None
    html = shown.html if shown is not None and shown.html is not None else ""
    response = flask.make_response(html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = FRAME_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def send_test(campaign_id: int) -> Any:
    """Queue a test to the signed-in user's own address."""
    try:
        sent = _api().test(campaign_id, _contact_arg() or _form_contact())
    except ValidationError as exc:
        return _campaign_page(campaign_id, errors={"test": str(exc)}, status=400)
    flask.flash(_("Test queued to %(address)s.", address=sent.to), "success")
    return flask.redirect(flask.url_for("campaigns.campaign", campaign_id=campaign_id), 303)


def _form_contact() -> int | None:
    text = request.form.get("contact_id", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _source(prefix: str) -> tuple[str, dict[str, str]]:
    """The list or segment of one of the send forms (its field is ``<prefix>source``)."""
    source = request.form.get(f"{prefix}source", "").strip()
    if not source:
        return "", {f"{prefix}source": _("Choose the mailing list or segment to send to.")}
    return source, {}


def _refused(campaign_id: int, prefix: str, exc: CRMError, form: dict[str, str]) -> Any:
    field, message = _field_error(exc, "source")
    name = f"{prefix}source" if field == "source" else field
    return _campaign_page(campaign_id, errors={name: message}, form=form, status=400)


def send_now(campaign_id: int) -> Any:
    """Send the campaign to a list or segment now, once the user has seen how many it reaches (``confirm=yes``).

    The first POST answers with the campaign page and a confirmation: how
    many contacts the send reaches and how many it leaves out, and a button
    that sends. The mail is then queued at once; the worker delivers it.
    """
    api = _api()
    api.get(campaign_id)
    source, errors = _source("now_")
    form = {"now_source": source}
    if errors:
        return _campaign_page(campaign_id, errors=errors, form=form, status=400)
    if request.form.get("confirm") != "yes":
        api.require_send()  # a user who may not send is refused before being asked to confirm
        try:
            reach = api.audience(source)
        except PermissionDenied:
            raise
        except CRMError as exc:
            return _refused(campaign_id, "now_", exc, form)
        return _campaign_page(campaign_id, form=form, confirm=reach)
    try:
        sent = api.send(campaign_id, source)
    except PermissionDenied:
        raise
    except CRMError as exc:
        return _refused(campaign_id, "now_", exc, form)
    flask.flash(
        _(
            "Sent to %(count)s address(es) of %(source)s; the worker delivers the mail.",
            count=sent.counts.queued,
            source=source,
        ),
        "success",
    )
    return _to_page(campaign_id)


def schedule(campaign_id: int) -> Any:
    """Send the campaign to a list or segment at a time typed in the user's time zone."""
    _api().get(campaign_id)
    source, errors = _source("at_")
    when_text = request.form.get("at", "").strip()
    form = {"at_source": source, "at": when_text}
    when = None
    if not when_text:
        errors["at"] = _("Give the date and time to send it, such as 2026-12-01 09:00.")
    else:
        try:
            when = _parse_local(when_text)
        except ValueError:
            errors["at"] = _("Write the date and time as 2026-12-01 09:00.")
    if errors or when is None:
        return _campaign_page(campaign_id, errors=errors, form=form, status=400)
    try:
        made = _api().send(campaign_id, source, at=when)
    except PermissionDenied:
        raise
    except CRMError as exc:
        return _refused(campaign_id, "at_", exc, form)
    flask.flash(_("Scheduled: send %(id)s goes out at the time you gave.", id=made.id), "success")
    return _to_page(campaign_id)


def recur(campaign_id: int) -> Any:
    """Send the campaign to a list on a recurrence (a monthly newsletter)."""
    _api().get(campaign_id)
    source, errors = _source("every_")
    rule = request.form.get("rule", "").strip()
    start_text = request.form.get("start", "").strip()
    form = {"every_source": source, "rule": rule, "start": start_text}
    start = None
    if not rule:
        errors["rule"] = _("Write a rule, such as %(rule)s (the first of each month at 09:00).", rule=MONTHLY)
    if start_text:
        try:
            start = _parse_local(start_text)
        except ValueError:
            errors["start"] = _("Write the date and time as 2026-12-01 09:00, or leave it empty.")
    if errors:
        return _campaign_page(campaign_id, errors=errors, form=form, status=400)
    try:
        made = _api().recur(campaign_id, source, rule, start)
    except PermissionDenied:
        raise
    except CRMError as exc:
        return _refused(campaign_id, "every_", exc, form)
    flask.flash(_("Recurring newsletter %(id)s added.", id=made.id), "success")
    return _to_page(campaign_id)


def cancel(send_id: int) -> Any:
    """Cancel a scheduled send."""
    api = _api()
    send = api.send_info(send_id)
    try:
        api.cancel(send_id)
    except ValidationError as exc:
        flask.flash(str(exc), "error")
    else:
        flask.flash(_("Send %(id)s cancelled.", id=send_id), "success")
    return flask.redirect(flask.url_for("campaigns.campaign", campaign_id=send.campaign_id), 303)


def stop(recurring_id: int) -> Any:
    """Stop a recurring newsletter."""
    info = _api().stop_recurring(recurring_id)
    flask.flash(_("Recurring newsletter %(id)s stopped.", id=recurring_id), "success")
    return flask.redirect(flask.url_for("campaigns.campaign", campaign_id=info.campaign_id), 303)

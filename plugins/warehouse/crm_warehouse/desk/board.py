"""The pipeline board (``/warehouse/pipeline``), moving a record from it, and the "deals closing this month" widget.

The board shows one column per open stage with its count and its amount
per currency, and the first cards of each (those expected to close soonest).
A card moves three ways, all through one form per card that posts the new
stage: dragged onto another column (the desk's ``board.js`` fills the form and
sends it), with the keyboard (the card's "Move to" menu and button), or
without JavaScript (the same form). Closing as lost asks for the reason first.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import flask
from flask import g, request
from markupsafe import Markup
from werkzeug.exceptions import NotFound

from crm_core.errors import CRMError, NotFoundError, PermissionDenied
from crm_core.i18n import gettext as _
from crm_warehouse.desk.common import (
    api,
    back,
    contact_names,
    helpers,
    in_stage_for,
    initials,
    owner_names,
    stage_label,
)

__all__ = ["board_page", "closing_widget", "move"]

#: the most cards a column shows (the totals count them all; the sales list shows the rest)
PER_STAGE = 30
#: the most records the home widget lists
WIDGET_LIMIT = 10


def _teams(crm: Any, scope: str | None) -> list[str]:
    """The teams the user may filter by: their own with a team scope, every team with scope all."""
    if scope == "all":
        return [team["name"] for team in crm.authz.teams.list()]
    if scope == "team":
        return sorted(g.user.teams)
    return []


def board_page() -> Any:
    """The open pipeline: a column per stage with its count, its amounts and its first cards; filter by owner or team."""
    crm = g.crm
    warehouse = api()
    scope = crm.authz.scope("warehouse.sales.read")
    if scope is None:
        raise PermissionDenied(_("The pipeline is for users who may read sales records."), "warehouse.sales.read")
    owner = request.args.get("owner", "").strip()
    team = request.args.get("team", "").strip()
    teams = _teams(crm, scope)
    owners: list[str] | None = None
    if owner:
        owners = [owner]
    elif team:
        if team not in teams:
            raise NotFound(_("No team %(team)s among the teams you may see.", team=team))
        try:
            owners = crm.authz.teams.get(team)["members"]
        except NotFoundError:
            raise NotFound(_("No team %(team)s among the teams you may see.", team=team)) from None
    columns = warehouse.board.columns(owners=owners, per_stage=PER_STAGE)
    cards = [card for column in columns for card in column.cards]
    pipeline = warehouse.sales.pipeline
    now = crm.now()
    return flask.render_template(
        "warehouse/board.html",
        columns=columns,
        owner=owner,
        team=team,
        owner_options=[("", _("Everyone"))] + [(o, o) for o in warehouse.board.owners()] if scope != "own" else [],
        team_options=[("", _("Every team"))] + [(t, t) for t in teams] if teams else [],
        people=_people(owner_names(crm, (c.sale.owner for c in cards))),
        none_owner=_person(None),
        sale_url=flask.url_for("warehouse.sale", sale_id=0)[:-1],
        contacts=contact_names(crm, (c.sale.contact_id for c in cards if not c.sale.title)),
        stages=[(s, stage_label(s)) for s in pipeline.stages],
        default_currency=warehouse.sales.settings.default_currency,
        won_stage=pipeline.won_stage,
        lost_stage=pipeline.lost_stage,
        in_stage=_memo(lambda days: in_stage_for(now - dt.timedelta(days=days), now), lambda since: (now - since).days),
        close_date=_memo(_format_day, lambda day: day),
        may_move=crm.authz.can("warehouse.sales.edit"),
        may_create=crm.authz.can("warehouse.sales.create"),
        per_stage=PER_STAGE,
        empty=not any(column.count for column in columns),
    )


def _memo(fn: Any, key: Any) -> Any:
    """``fn`` of ``key(value)``, worked out once per distinct key: cards share close dates and days in a stage."""
    seen: dict[Any, Any] = {}

    def call(value: Any) -> Any:
        k = key(value)
        if k not in seen:
            seen[k] = fn(k)
        return seen[k]

    return call


def _format_day(day: dt.date) -> str:
    from babel.dates import format_date

    from crm_core import i18n

    return str(format_date(day, format="medium", locale=i18n.current_language()))


def _person(name: str | None) -> dict[str, str]:
    """An owner as a card shows them: initials in a circle, the name on hover and for screen readers."""
    shown = name or _("nobody")
    return {"name": shown, "initials": initials(name) if name else "–", "label": _("Owner: %(owner)s", owner=shown)}


def _people(names: dict[str, str]) -> dict[str, dict[str, str]]:
    return {user: _person(display) for user, display in names.items()}


def move(sale_id: int) -> Any:
    """Move a record to the stage the form names: an open stage, won (closes it), or lost (asks for the reason)."""
    warehouse = api()
    sales = warehouse.sales
    stage = request.form.get("stage", "").strip()
    default = flask.url_for("warehouse.board")
    pipeline = sales.pipeline
    if stage == pipeline.lost_stage:
        sales.get(sale_id)  # an unknown or out-of-scope record is a 404 before the form
        target = flask.url_for("warehouse.close", sale_id=sale_id, outcome="lost", next=request.form.get("next", ""))
        return flask.redirect(target, 303)
    try:
        if stage == pipeline.won_stage:
            sale = sales.close(sale_id, won=True)
            flask.flash(_("Won: %(title)s", title=sale.title or f"#{sale.id}"), "success")
        else:
            sale = sales.move(sale_id, stage)
            flask.flash(
                _("%(title)s moved to %(stage)s.", title=sale.title or f"#{sale.id}", stage=stage_label(sale.stage)),
                "success",
            )
    except CRMError as exc:
        if isinstance(exc, (NotFoundError, PermissionDenied)):
            raise
        flask.flash(_("Not moved: %(reason)s", reason=str(exc)), "error")
    return back(default)


def closing_widget(crm: Any) -> Markup:
    """The open records in the user's scope expected to close this month (in the user's time zone), soonest first."""
    from crm_warehouse.desk.common import user_today

    today = user_today(crm)
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    warehouse = crm.plugin("warehouse")
    sales = warehouse.board.closing(first, last, limit=WIDGET_LIMIT)
    html = flask.render_template(
        "warehouse/_closing.html",
        sales=sales,
        contacts=contact_names(crm, (s.contact_id for s in sales if not s.title)),
        overdue=lambda s: s.expected_close_on is not None and s.expected_close_on < today,
        more=len(sales) >= WIDGET_LIMIT,
        month=dt.date(today.year, today.month, 1),
        **helpers(),
    )
    return Markup(html)

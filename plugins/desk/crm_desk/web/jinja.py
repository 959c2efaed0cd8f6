"""The desk's Jinja2 environment: templates (the plugins' under their names), translations, and what every page sees.

Every template gets ``user``, ``language``, ``languages``, ``nav`` (the
entries the user may see), ``csrf_field()``, ``csrf_token()``, ``asset()``,
the filters ``datetime``, ``date`` and ``number`` (in the user's language
and time zone), and ``desk_panels(contact_id)`` / ``desk_actions(on, **values)``
for the contact card and the action bars.
"""

from __future__ import annotations

import logging
import zoneinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import flask
import jinja2
from flask import Flask, g
from markupsafe import Markup, escape

from crm_core import i18n, web

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_desk.contributions import Contributions

__all__ = ["SHIPPED_TRANSLATIONS", "TEMPLATES", "configure"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SHIPPED_TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
log = logging.getLogger("crm.desk")


def configure(
    app: Flask, crm: CRM, contributions: Contributions, plugin_templates: dict[str, jinja2.BaseLoader]
) -> None:
    """Set up templates, catalogs (the desk's, then each plugin's) and the values every page sees."""
    settings = crm.settings("desk")
    folders = [SHIPPED_TRANSLATIONS, *(p.translations for _n, p in contributions.pages if p.translations)]
    app.extensions["crm_desk_catalogs"] = i18n.Catalogs(settings.languages, settings.default_language, folders)
    # each plugin's catalog comes first on its own pages, widgets and panels (see catalog_of): the plugins'
    # catalogs may say one English text differently ("done": "hecha" for a task, "hecho" elsewhere)
    app.extensions["crm_desk_plugin_catalogs"] = {n: p.translations for n, p in contributions.pages if p.translations}
    app.extensions["crm_desk_blueprint_catalogs"] = {}  # blueprint name -> folder, filled as they are registered
    # filled as the plugins' pages are added: "<plugin>/<file>"
    app.jinja_loader = jinja2.ChoiceLoader(
        [jinja2.PrefixLoader(plugin_templates), jinja2.FileSystemLoader(str(TEMPLATES))]
    )
    environment = app.jinja_env
    environment.trim_blocks = True
    environment.lstrip_blocks = True
    i18n.install_jinja(environment)
    names = i18n.language_names(settings.languages)

    @app.context_processor
    def _common() -> dict[str, Any]:
        user = g.get("user")
        return {
            "site_name": settings.site_name,
            "user": user,
            "language": g.get("language", settings.default_language),
            "languages": names,
            "nav": contributions.nav() if user else [],
            "csrf_token": web.csrf_token,
            "csrf_field": _csrf_field,
        }

    # a global too, so that a macro imported without the context (ui.post_button) can put the token in its form
    environment.globals["csrf_field"] = _csrf_field
    environment.filters["datetime"] = lambda value: _format_datetime(crm, value)
    environment.filters["date"] = lambda value: _format_date(crm, value)
    environment.filters["number"] = _format_number
    environment.globals["desk_panels"] = lambda contact_id: _panels(crm, contributions, contact_id)
    environment.globals["desk_actions"] = lambda on, **values: _actions(contributions, on, values)


def _csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(web.CSRF_FIELD, web.csrf_token())


def user_timezone(crm: CRM) -> Any:
    """The signed-in user's time zone, else the app's."""
    user = g.get("user")
    if user is not None and user.timezone:
        try:
            return zoneinfo.ZoneInfo(user.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return crm.tz


def _format_datetime(crm: CRM, value: Any) -> str:
    from babel.dates import format_datetime

    if not value:
        return ""
    return str(format_datetime(value, format="medium", tzinfo=user_timezone(crm), locale=i18n.current_language()))


def _format_date(crm: CRM, value: Any) -> str:
    from babel.dates import format_date

    if not value:
        return ""
    if hasattr(value, "astimezone"):
        value = value.astimezone(user_timezone(crm)).date()
    return str(format_date(value, format="medium", locale=i18n.current_language()))


def _format_number(value: Any) -> str:
    from babel.numbers import format_decimal

    return "" if value is None else str(format_decimal(value, locale=i18n.current_language()))


def render_contributed(kind: str, name: str, plugin: str, call: Any) -> Markup:
    """A widget's or panel's HTML, in the plugin's own words first; one that fails is a short notice (and logged)."""
    app = flask.current_app
    first = app.extensions.get("crm_desk_plugin_catalogs", {}).get(plugin)
    try:
        with app.extensions["crm_desk_catalogs"].use(i18n.current_language(), first):
            html = call()
    except Exception:  # noqa: BLE001 - third-party code: the rest of the page is drawn
        log.exception("desk: the %s %r of plugin %r failed", kind, name, plugin)
        return Markup('<p class="muted">{}</p>').format(i18n.gettext("This part could not be shown."))
    # markup (Markup, a rendered template) is HTML; a plain string is text, escaped
    return Markup(html.__html__()) if hasattr(html, "__html__") else escape(str(html))


def _panels(crm: CRM, contributions: Contributions, contact_id: int) -> list[dict[str, Any]]:
    out = []
    for found in contributions.panels():
        panel = found.item
        body = render_contributed("panel", panel.name, found.plugin, lambda p=panel: p.render(crm, contact_id))
        out.append({"name": panel.name, "title": panel.title, "body": body})
    return out


def _actions(contributions: Contributions, on: str, values: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"name": a.name, "label": a.label, "url": flask.url_for(a.endpoint, **values)}
        for a in contributions.actions(on)
    ]

"""The portal's own small pages (home, theme, logo, health) and the pages plugins add (``crm_portal_pages``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import flask
from flask import g

from crm_core.errors import PluginError
from crm_portal.web.render import page

if TYPE_CHECKING:
    import jinja2

    from crm_core.app import CRM

__all__ = ["register", "register_plugin_pages"]

log = logging.getLogger("crm.portal")


def register(blueprint: flask.Blueprint, logo_path: str | None) -> None:
    @blueprint.route("/")
    def home() -> Any:
        forms = [{"name": f.name, "title": _text(f.title)} for f in g.site.settings.signup_forms]
        extra = flask.current_app.extensions.get("crm_portal_links", [])
        return page("portal/home.html", forms=forms, links=extra)

    @blueprint.route("/theme.css")
    def theme() -> Any:
        settings = g.site.settings
        css = (
            ":root {\n"
            f"  --primary: {settings.primary_color};\n"
            f"  --background: {settings.background_color};\n"
            f"  --text: {settings.text_color};\n"
            "}\n"
        )
        response = flask.Response(css, mimetype="text/css")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @blueprint.route("/brand/logo")
    def logo() -> Any:
        if logo_path is None:
            flask.abort(404)
        response = flask.send_file(logo_path, max_age=3600)
        return response

    @blueprint.route("/healthz")
    def healthz() -> Any:
        # cheap, for a load balancer's liveness check: the database answers
        # (a database that does not is the error handler's 503)
        g.crm.database.execute_sql("SELECT 1")
        return flask.Response("ok\n", mimetype="text/plain")

    @blueprint.route("/readyz")
    def readyz() -> Any:
        """Ready to take traffic: the database can be written (forms write), else 503."""
        from crm_core.errors import StorageError
        from crm_core.storage import check_writable

        try:
            check_writable(g.crm.database)
        except StorageError as exc:
            # the reason names files and servers: it goes to the log, not to the public
            log.error("portal: not ready, the database cannot be written: %s", exc)
            return flask.Response(
                "not ready: the database cannot be written\n",
                status=503,
                mimetype="text/plain",
                headers={"Retry-After": "10"},
            )
        return flask.Response("ready\n", mimetype="text/plain")


def _text(texts: dict[str, str]) -> str:
    from crm_portal.signup import text_for

    return text_for(texts, g.language, g.site.settings.default_language)


def register_plugin_pages(app: flask.Flask, crm: CRM, templates: dict[str, jinja2.BaseLoader]) -> None:
    """Add every ``crm_portal_pages`` page under the portal, or refuse with a PluginError naming the plugin."""
    import jinja2

    links: list[dict[str, str]] = []
    blueprints: dict[str, flask.Blueprint] = {}
    names: dict[str, set[str]] = {}
    folders: dict[str, str] = {}
    taken = {(_shape(rule.rule), method) for rule in app.url_map.iter_rules() for method in (rule.methods or ())}
    for plugin, spec in crm.hooks.portal_pages(crm):
        if plugin == "portal":
            continue
        methods = set(spec.methods) | ({"HEAD"} if "GET" in spec.methods else set())
        clash = sorted(m for m in methods if (_shape(spec.rule), m) in taken)
        if clash:
            raise PluginError(
                plugin,
                f"plugin {plugin!r}: the portal page {spec.name!r} wants {spec.rule} ({', '.join(clash)}), which another page already has; choose another rule",
            )
        blueprint = blueprints.get(plugin)
        if blueprint is None:
            blueprint = blueprints[plugin] = flask.Blueprint(plugin, f"crm_portal.pages.{plugin}")
            names[plugin] = set()
        if spec.name in names[plugin]:
            raise PluginError(
                plugin, f"plugin {plugin!r}: two portal pages are named {spec.name!r}; give each its own name"
            )
        names[plugin].add(spec.name)
        blueprint.add_url_rule(spec.rule, endpoint=spec.name, view_func=spec.view, methods=list(spec.methods))
        taken |= {(_shape(spec.rule), m) for m in methods}
        if spec.templates is not None:
            folder = str(spec.templates)
            if plugin in folders and folders[plugin] != folder:
                raise PluginError(
                    plugin,
                    f"plugin {plugin!r}: its portal pages name two template folders ({folders[plugin]}, {folder}); use one",
                )
            if not spec.templates.is_dir():
                raise PluginError(
                    plugin,
                    f"plugin {plugin!r}: the template folder {folder} of portal page {spec.name!r} does not exist",
                )
            folders[plugin] = folder
            templates[plugin] = jinja2.FileSystemLoader(folder)
        if spec.title:
            if "<" in spec.rule or "GET" not in spec.methods:
                raise PluginError(
                    plugin,
                    f"plugin {plugin!r}: the portal page {spec.name!r} has a title, so the home page links to it, but its rule "
                    f"{spec.rule} {'has variables' if '<' in spec.rule else 'does not answer GET'}; leave its title empty",
                )
            links.append({"endpoint": f"{plugin}.{spec.name}", "title": spec.title})
    for blueprint in blueprints.values():
        app.register_blueprint(blueprint)
    app.extensions["crm_portal_links"] = links
    app.extensions["crm_portal_plugins"] = frozenset(blueprints)


def _shape(rule: str) -> str:
    """A rule with its variables' names left out: ``/surveys/<code>`` answers what ``/surveys/<token>`` answers."""
    import re

    return re.sub(r"<(?:([^:<>]+):)?[^<>]+>", lambda m: f"<{m.group(1) or 'default'}>", rule)

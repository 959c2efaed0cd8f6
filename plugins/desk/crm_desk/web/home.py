"""Home ("my day": the widgets plugins contribute) and the search page (what plugins find, ``crm_desk_search``)."""

from __future__ import annotations

import logging
from typing import Any

import flask
from flask import request
from werkzeug.routing import BuildError

from crm_desk.web.jinja import render_contributed
from crm_desk.web.render import page

__all__ = ["PER_PLUGIN", "find", "register"]

#: the most results asked of each plugin
PER_PLUGIN = 10
#: the longest query passed on (longer text is cut)
MAX_QUERY = 200
log = logging.getLogger("crm.desk")


def register(blueprint: flask.Blueprint) -> None:
    """Add home and search to the desk's blueprint."""
    blueprint.add_url_rule("/", "home", home)
    blueprint.add_url_rule("/search", "search", search)
    blueprint.add_url_rule("/search/results", "search_results", search_results)


def home() -> Any:
    """The widgets the user may see, each drawn as the user; an empty state that teaches when there are none."""
    contributions = flask.current_app.extensions["crm_desk"]
    crm = flask.g.crm
    widgets = [
        {
            "name": found.item.name,
            "title": found.item.title,
            "body": render_contributed("widget", found.item.name, found.plugin, lambda w=found.item: w.render(crm)),
        }
        for found in contributions.widgets()
    ]
    return page("desk/home.html", widgets=widgets, actions=contributions.actions("home"))


def find(query: str) -> tuple[list[dict[str, Any]], list[str]]:
    """What the plugins find for ``query``, as the signed-in user: the groups by kind, and the plugins that failed.

    Each group is ``{"kind": ..., "results": [{"title", "subtitle", "url"}]}``,
    in the order the kinds first appear (plugins in load order, each
    plugin's best match first). A plugin that raises, returns something
    else, or links to an endpoint no page has is logged and named in the
    second list; the others' results are kept.
    """
    crm = flask.g.crm
    groups: dict[str, list[dict[str, str]]] = {}
    failed: list[str] = []
    for plugin, found in crm.hooks.desk_search(crm, query, PER_PLUGIN):
        if isinstance(found, Exception):
            log.error("desk search: %s", found)
            failed.append(plugin)
            continue
        for result in found:
            try:
                url = flask.url_for(result.endpoint, **result.args)
            except BuildError:
                log.error(
                    "desk search: plugin %r links a result to endpoint %r with %r, which no page takes",
                    plugin,
                    result.endpoint,
                    result.args,
                )
                if plugin not in failed:
                    failed.append(plugin)
                continue
            groups.setdefault(result.kind, []).append({"title": result.title, "subtitle": result.subtitle, "url": url})
    return [{"kind": kind, "results": results} for kind, results in groups.items()], failed


def _query() -> str:
    return request.args.get("q", "").strip()[:MAX_QUERY]


def _values(query: str) -> dict[str, Any]:
    groups, failed = find(query) if query else ([], [])
    offered = bool(flask.g.crm.hooks.implementers("crm_desk_search"))
    return {"query": query, "groups": groups, "failed": failed, "offered": offered}


def search() -> Any:
    """The search page: the results grouped by kind; with ``go`` (the form's Enter) the first result opens."""
    values = _values(_query())
    if request.args.get("go") and values["groups"]:
        return flask.redirect(values["groups"][0]["results"][0]["url"])
    return page("desk/search.html", **values)


def search_results() -> Any:
    """The results alone, for search as you type (htmx swaps them into the page)."""
    return page("desk/search_results.html", **_values(_query()))

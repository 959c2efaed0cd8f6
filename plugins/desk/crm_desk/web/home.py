"""Home ("my day": the widgets plugins contribute) and the search page."""

from __future__ import annotations

from typing import Any

import flask
from flask import request

from crm_desk.web.jinja import render_contributed
from crm_desk.web.render import page

__all__ = ["register"]


def register(blueprint: flask.Blueprint) -> None:
    """Add home and search to the desk's blueprint."""
    blueprint.add_url_rule("/", "home", home)
    blueprint.add_url_rule("/search", "search", search)


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


def search() -> Any:
    """The search box's page. No installed plugin offers search yet: it says so, and finds nothing."""
    return page("desk/search.html", query=request.args.get("q", "").strip()[:200])

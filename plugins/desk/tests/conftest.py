"""Fixtures for the desk's tests: an app with the desk and users, a loyalty plugin with pages, and a web client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crm_desk.testing import DeskClient as Web
from crm_hookspecs import hookimpl
from crm_hookspecs.records import DeskAction, DeskNavEntry, DeskPages, DeskPanel, DeskWidget, PermissionSpec

PASSWORD = "Correct-horse-42!"
SECRET = "desk-secret-for-the-desk-tests-0123456789"


def loyalty_blueprint() -> Any:
    """A plugin's desk pages: imported and built only when the desk calls for them."""
    import flask
    from markupsafe import Markup

    blueprint = flask.Blueprint("loyalty", __name__)

    @blueprint.route("/")
    def overview() -> Any:
        return flask.render_template("loyalty/overview.html")

    @blueprint.route("/secret")
    def secret_page() -> Any:
        return Markup("<p>vault</p>")

    @blueprint.route("/give/<int:contact_id>")
    def give(contact_id: int) -> Any:
        return f"give {contact_id}"

    @blueprint.route("/card/<int:contact_id>")
    def card(contact_id: int) -> Any:
        return flask.render_template_string(
            '{% import "desk/macros.html" as ui %}{{ ui.contact_panels(contact_id) }}{{ ui.action_bar("contact", {"contact_id": contact_id}) }}',
            contact_id=contact_id,
        )

    @blueprint.route("/note", methods=["POST"])
    def note() -> Any:
        return "noted"

    return blueprint


class Loyalty:
    """A third-party plugin contributing a page, navigation, a widget, a panel and actions."""

    def __init__(self, templates: Any) -> None:
        self.templates = templates

    @hookimpl
    def crm_permissions(self) -> list[Any]:
        return [
            PermissionSpec("loyalty.read", "See the loyalty points"),
            PermissionSpec("loyalty.admin", "Manage the loyalty programme"),
        ]

    @hookimpl
    def crm_desk_pages(self, crm: Any) -> DeskPages:
        from markupsafe import Markup

        return DeskPages(
            blueprint=loyalty_blueprint,
            templates=self.templates,
            nav=[
                DeskNavEntry("Loyalty", "loyalty.overview", permission="loyalty.read", order=10),
                DeskNavEntry("Vault", "loyalty.secret_page", permission="loyalty.admin", order=20),
            ],
            widgets=[
                DeskWidget(
                    "points",
                    "Points today",
                    lambda crm: Markup("<p>42 points for {}</p>").format(crm.current_user.name),
                ),
                DeskWidget("admin_only", "Vault widget", lambda crm: "hidden", permission="loyalty.admin"),
                DeskWidget("broken", "Broken widget", lambda crm: 1 / 0, order=200),
            ],
            panels=[DeskPanel("points", "Points", lambda crm, contact_id: f"<b>{contact_id}</b> points")],
            actions=[
                DeskAction("give", "Give points", "loyalty.give", permission="loyalty.read"),
                DeskAction("vault", "Open the vault", "loyalty.secret_page", on="home", permission="loyalty.admin"),
            ],
        )


@pytest.fixture
def desk_app(crm_factory: Callable[..., Any], tmp_path: Any) -> Callable[..., Any]:
    """``desk_app(*plugins, **desk_settings)``: a migrated app with the desk, ``ana`` (sales) and ``root`` (admin)."""

    def make(*extra: Any, **desk: Any) -> Any:
        crm = crm_factory(
            plugins=["desk", *extra],
            settings={"desk": {"base_url": "https://crm.example.com/desk", **desk}},
            core={"secret": SECRET},
            mail={"sender": "CRM <crm@example.com>"},
        )
        users = crm.authz.users
        known = {u.name for u in users.list()}
        if "ana" not in known:
            users.add("ana", display_name="Ana García", email="ana@example.com", roles=["sales"], password=PASSWORD)
            users.add("root", display_name="Root", email="root@example.com", roles=["admin"], password=PASSWORD)
        return crm

    return make


@pytest.fixture
def loyalty(tmp_path: Any) -> tuple[str, Any]:
    folder = tmp_path / "loyalty_templates"
    folder.mkdir()
    (folder / "overview.html").write_text(
        '{% extends "desk/layout.html" %}{% import "desk/macros.html" as ui %}'
        "{% block title %}Loyalty{% endblock %}{% block content %}<h1>Loyalty overview</h1>"
        '{{ ui.badge("gold", "accent") }}{% endblock %}'
    )
    return "loyalty", Loyalty(folder)


@pytest.fixture
def web(desk_app: Callable[..., Any]) -> Web:
    return Web(desk_app())

"""crm_desk_pages: a plugin's pages, navigation, widgets, panels and actions, shown to whom may see them."""

from __future__ import annotations

from typing import Any

import pytest

from crm_core.errors import PluginError
from crm_desk.testing import DeskClient
from crm_hookspecs.records import DeskAction, DeskNavEntry, DeskPages, DeskWidget

PASSWORD = "Correct-horse-42!"


def test_a_plugin_page_nav_entry_and_widget_appear(desk_app: Any, loyalty: Any) -> None:
    web = DeskClient(desk_app(loyalty))
    web.sign_in("root", PASSWORD)  # admin: every permission
    home = web.get("/").get_data(as_text=True)
    assert 'href="/loyalty/"' in home and ">Loyalty<" in home and ">Vault<" in home
    assert "42 points for root" in home and "Vault widget" in home
    assert "This part could not be shown." in home  # the broken widget, and the page still drawn
    assert 'href="/loyalty/secret"' in home  # the home action
    page = web.get("/loyalty/")
    assert page.status_code == 200 and "Loyalty overview" in web.text and 'class="badge badge-accent"' in web.text
    card = web.get("/loyalty/card/7").get_data(as_text=True)
    assert "&lt;b&gt;7&lt;/b&gt; points" in card  # a plain string is text, escaped
    assert 'href="/loyalty/give/7"' in card


def test_entries_whose_permission_the_user_lacks_are_not_shown(desk_app: Any, loyalty: Any) -> None:
    web = DeskClient(desk_app(loyalty))
    web.sign_in("ana", PASSWORD)  # sales: loyalty.read and loyalty.admin are not granted
    home = web.get("/").get_data(as_text=True)
    assert ">Vault<" not in home and "Vault widget" not in home and "Open the vault" not in home
    assert "42 points for ana" in home  # a widget without a permission


def test_without_plugins_home_teaches_and_nav_has_only_home(web: DeskClient) -> None:
    web.sign_in("ana", PASSWORD)
    home = web.get("/").get_data(as_text=True)
    assert "Nothing on your day yet" in home and "Ask your administrator" in home
    assert home.count('<li><a href="') == 1


def test_plugin_pages_require_sign_in_and_csrf(desk_app: Any, loyalty: Any) -> None:
    web = DeskClient(desk_app(loyalty))
    assert web.get("/loyalty/").status_code == 302
    web.sign_in("root", PASSWORD)
    web.get("/loyalty/")
    assert web.post("/loyalty/note", csrf=False).status_code == 403
    assert web.post("/loyalty/note").status_code == 200


def test_the_blueprint_is_built_only_when_the_desk_asks(desk_app: Any, crm_plugin: Any) -> None:
    calls: list[str] = []

    def blueprint() -> Any:
        import flask

        calls.append("built")
        page = flask.Blueprint("lazy", __name__)
        page.add_url_rule("/", "index", lambda: "lazy")
        return page

    crm = desk_app(crm_plugin("lazy", crm_desk_pages=lambda crm: DeskPages(blueprint=blueprint)))
    assert calls == []
    DeskClient(crm)
    assert calls == ["built"]


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ("nonsense", "must return a DeskPages record or None"),
        (DeskPages(nav=[DeskNavEntry("X", "nowhere.page")]), "links to endpoint 'nowhere.page'"),
        (DeskPages(widgets=[DeskWidget("w", "W", str, permission="nobody.has.this")]), "which no plugin declares"),
    ],
)
def test_a_bad_contribution_is_a_plugin_error(desk_app: Any, crm_plugin: Any, result: Any, message: str) -> None:
    crm = desk_app(crm_plugin("bad", crm_desk_pages=lambda crm: result))
    with pytest.raises(PluginError, match=message) as caught:
        DeskClient(crm)
    assert "'bad'" in str(caught.value)


def test_a_raising_hook_is_a_plugin_error(desk_app: Any, crm_plugin: Any) -> None:
    crm = desk_app(crm_plugin("bad", crm_desk_pages=lambda crm: 1 / 0))
    with pytest.raises(PluginError, match="crm_desk_pages raised ZeroDivisionError"):
        DeskClient(crm)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DeskNavEntry("X", "no-dot"), "name a Flask endpoint"),
        (lambda: DeskWidget("Bad Name", "T", str), "lower-case letters"),
        (lambda: DeskWidget("w", "T", "not callable"), "must be a function"),
        (lambda: DeskAction("a", "A", "x.y", on="sidebar"), "on must be 'contact' or 'home'"),
        (lambda: DeskPages(url_prefix="loyalty/"), "write it as '/loyalty'"),
        (lambda: DeskPages(nav=["Loyalty"]), "must hold DeskNavEntry records"),
        (lambda: DeskNavEntry("X", "a.b", permission="Not A Permission"), "name a declared permission"),
    ],
)
def test_records_refuse_bad_values_with_a_clear_message(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_the_contract_does_not_import_flask() -> None:
    import subprocess
    import sys

    code = "import sys, crm_hookspecs.records, crm_hookspecs.specs, crm_desk.plugin; print('flask' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )

"""The staff web app's contract (``crm_desk_pages``, ``crm_desk_search``, contract 1.3.0); re-exported by :mod:`crm_hookspecs.records`.

Kept in a module of its own so that ``records.py`` stays readable; import
these names from ``crm_hookspecs.records``. Nothing here imports Flask: a
plugin's web code is reached through ``DeskPages.blueprint``, a callable the
desk calls only when it builds its app.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs

__all__ = ["DeskAction", "DeskNavEntry", "DeskPages", "DeskPanel", "DeskSearchResult", "DeskWidget"]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ENDPOINT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_PERMISSION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+$")


def _to_dict(value: Any) -> dict[str, Any]:
    return dict(value)


def _to_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


def _to_optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


def _name(kind: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(
                f"{kind} name {value!r}: use 1 to 40 lower-case letters, digits and _, starting with a letter"
            )

    return check


def _endpoint(kind: str) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not isinstance(value, str) or not _ENDPOINT.match(value):
            raise ValueError(
                f"{kind} endpoint {value!r}: name a Flask endpoint as '<blueprint>.<view>' (such as 'loyalty.notes')"
            )

    return check


def _permission(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not _PERMISSION.match(value)):
        raise ValueError(f"permission {value!r}: name a declared permission such as 'contacts.read', or None")


def _callable(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not callable(value):
        raise ValueError(f"{attribute.name} must be a function, not {type(value).__name__} {value!r}")


@attrs.frozen
class DeskNavEntry:
    """An entry of the desk's left navigation: ``label`` (English; translated by the plugin's catalog) links to ``endpoint``.

    The entry is shown only to a user who holds ``permission`` (``None``:
    every signed-in user); entries are sorted by ``order``, then label.
    """

    label: str
    endpoint: str = attrs.field(validator=_endpoint("DeskNavEntry"))
    permission: str | None = attrs.field(default=None, validator=_permission)
    order: int = 100


@attrs.frozen
class DeskWidget:
    """A card on the desk's home page ("my day").

    ``render(crm)`` is called while the page is drawn, as the signed-in user
    (so the plugin's API checks their permissions), and returns the card's
    body: markup (a ``markupsafe.Markup`` built with ``Markup.format``, or
    ``flask.render_template``'s result wrapped in ``Markup``) is shown as
    HTML, a plain string as text (escaped). ``permission``
    hides the widget from a user who lacks it. A widget that raises is
    replaced by a short notice and logged; the rest of the page is drawn.
    """

    name: str = attrs.field(validator=_name("DeskWidget"))
    title: str
    render: Callable[..., Any] = attrs.field(validator=_callable)
    permission: str | None = attrs.field(default=None, validator=_permission)
    order: int = 100


@attrs.frozen
class DeskPanel:
    """A panel on a contact's card in the desk: ``render(crm, contact_id)`` returns its body (markup, or text).

    Called as the signed-in user; hidden from a user without
    ``permission``. The contact card (the contacts plugin's page) shows the
    panels with the desk's ``desk_panels(contact_id)`` template function.
    """

    name: str = attrs.field(validator=_name("DeskPanel"))
    title: str
    render: Callable[..., Any] = attrs.field(validator=_callable)
    permission: str | None = attrs.field(default=None, validator=_permission)
    order: int = 100


@attrs.frozen
class DeskAction:
    """A button that links to one of the plugin's pages: on a contact's card (``on="contact"``) or on the home page.

    A contact action's endpoint is called with ``contact_id``
    (``url_for(endpoint, contact_id=...)``). Hidden from a user without
    ``permission``; sorted by ``order``.
    """

    name: str = attrs.field(validator=_name("DeskAction"))
    label: str
    endpoint: str = attrs.field(validator=_endpoint("DeskAction"))
    on: Literal["contact", "home"] = attrs.field(default="contact")
    permission: str | None = attrs.field(default=None, validator=_permission)
    order: int = 100

    @on.validator
    def _check_on(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value not in ("contact", "home"):
            raise ValueError(f"DeskAction {self.name!r}: on must be 'contact' or 'home', not {value!r}")


@attrs.frozen
class DeskPages:
    """What a plugin contributes to the staff web app, returned by ``crm_desk_pages``.

    ``blueprint`` is a function of no arguments that returns a
    ``flask.Blueprint`` (import Flask and your views inside it: the desk calls
    it only when it builds its app). It is mounted at ``url_prefix``
    (default ``/<plugin>``); every view requires a signed-in user and runs as
    that user, and every POST is CSRF-checked. ``templates`` is a folder of
    Jinja2 templates loaded as ``"<plugin>/<file>"`` (extend
    ``"desk/layout.html"``, import ``"desk/macros.html"``);
    ``translations`` a folder of gettext catalogs
    (``<lang>/LC_MESSAGES/messages.mo``) for the plugin's texts, labels and
    titles. ``nav``, ``widgets``, ``panels`` and ``actions`` are the
    plugin's entries in the navigation, the home page, the contact card and
    the action bars.
    """

    blueprint: Callable[[], Any] | None = attrs.field(default=None, validator=_callable)
    url_prefix: str | None = attrs.field(default=None)
    templates: Path | None = attrs.field(default=None, converter=_to_optional_path)
    translations: Path | None = attrs.field(default=None, converter=_to_optional_path)
    nav: tuple[DeskNavEntry, ...] = attrs.field(default=(), converter=_to_tuple)
    widgets: tuple[DeskWidget, ...] = attrs.field(default=(), converter=_to_tuple)
    panels: tuple[DeskPanel, ...] = attrs.field(default=(), converter=_to_tuple)
    actions: tuple[DeskAction, ...] = attrs.field(default=(), converter=_to_tuple)

    @url_prefix.validator
    def _check_prefix(self, attribute: attrs.Attribute[Any], value: str | None) -> None:
        if value is not None and (not value.startswith("/") or value.endswith("/") or len(value) < 2):
            raise ValueError(f"DeskPages url_prefix {value!r}: write it as '/loyalty' (a leading '/', no trailing one)")

    def __attrs_post_init__(self) -> None:
        for kind, items, cls in (
            ("nav", self.nav, DeskNavEntry),
            ("widgets", self.widgets, DeskWidget),
            ("panels", self.panels, DeskPanel),
            ("actions", self.actions, DeskAction),
        ):
            for item in items:
                if not isinstance(item, cls):
                    raise ValueError(f"DeskPages {kind} must hold {cls.__name__} records, not {type(item).__name__}")


@attrs.frozen
class DeskSearchResult:
    """One thing the desk's search found, returned by ``crm_desk_search``: a link to one of the plugin's pages.

    ``kind`` is the heading the desk groups the results under (English, such
    as ``"Contacts"``; translated by the plugin's catalog, like a
    navigation label); ``title`` the link's text and ``subtitle`` a line
    under it (an e-mail address, a due date). The link is
    ``url_for(endpoint, **args)``: ``endpoint`` is a view of the plugin's
    blueprint (``'<blueprint>.<view>'``) and ``args`` its URL arguments
    (``{"contact_id": 7}``).
    """

    kind: str
    title: str
    endpoint: str = attrs.field(validator=_endpoint("DeskSearchResult"))
    args: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    subtitle: str = ""

    def __attrs_post_init__(self) -> None:
        for name in ("kind", "title"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"DeskSearchResult {name} must be a non-empty string, not {value!r}")
        if not isinstance(self.subtitle, str):
            raise ValueError(f"DeskSearchResult subtitle must be a string, not {self.subtitle!r}")

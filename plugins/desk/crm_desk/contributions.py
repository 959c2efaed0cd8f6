"""What the installed plugins contribute to the desk (``crm_desk_pages``), checked once when the app is built.

:class:`Contributions` holds every plugin's ``DeskPages`` and answers, for
the user of the current request, which navigation entries, widgets, panels
and actions they may see (``crm.authz.can``): an entry whose permission the
user lacks is left out, and a plugin that is not installed has none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from crm_core.errors import PluginError

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import DeskAction, DeskNavEntry, DeskPages

__all__ = ["Contributed", "Contributions"]

_T = TypeVar("_T")


@attrs.frozen
class Contributed:
    """One contributed entry (a nav entry, widget, panel or action) and the plugin it came from."""

    plugin: str
    item: Any


class Contributions:
    """Every plugin's ``DeskPages``, in load order, with their permissions checked against the declared ones."""

    def __init__(self, crm: CRM, found: Iterable[tuple[str, DeskPages]]) -> None:
        self._crm = crm
        self.pages: list[tuple[str, DeskPages]] = list(found)
        for plugin, pages in self.pages:
            for item in (*pages.nav, *pages.widgets, *pages.panels, *pages.actions):
                self._check_permission(plugin, item)

    @classmethod
    def collect(cls, crm: CRM) -> Contributions:
        """Call ``crm_desk_pages`` on every loaded plugin."""
        return cls(crm, crm.hooks.desk_pages(crm))

    def _check_permission(self, plugin: str, item: Any) -> None:
        permission = item.permission
        if permission is None:
            return
        try:
            self._crm.authz.permission(permission)
        except PluginError:
            what = getattr(item, "name", None) or getattr(item, "label", "")
            raise PluginError(
                plugin,
                f"plugin {plugin!r}: crm_desk_pages: {type(item).__name__} {what!r} needs permission {permission!r}, "
                "which no plugin declares; declare it in crm_permissions or name a declared one",
            ) from None

    def _all(self, kind: str) -> Iterator[Contributed]:
        for plugin, pages in self.pages:
            for item in getattr(pages, kind):
                yield Contributed(plugin, item)

    def _visible(self, kind: str, key: Any) -> list[Contributed]:
        authz = self._crm.authz
        items = [c for c in self._all(kind) if c.item.permission is None or authz.can(c.item.permission)]
        return sorted(items, key=key)

    def endpoints(self) -> list[tuple[str, str, str]]:
        """Every endpoint the entries link to: ``(plugin, kind, endpoint)``, to check once the blueprints are in."""
        out = [(c.plugin, "DeskNavEntry", c.item.endpoint) for c in self._all("nav")]
        out += [(c.plugin, "DeskAction", c.item.endpoint) for c in self._all("actions")]
        return out

    def nav(self) -> list[DeskNavEntry]:
        """The navigation entries the acting user may see, by order then label."""
        return [c.item for c in self._visible("nav", lambda c: (c.item.order, c.item.label))]

    def widgets(self) -> list[Contributed]:
        """The home-page widgets the acting user may see, by order then title."""
        return self._visible("widgets", lambda c: (c.item.order, c.item.title))

    def panels(self) -> list[Contributed]:
        """The contact-card panels the acting user may see, by order then title."""
        return self._visible("panels", lambda c: (c.item.order, c.item.title))

    def actions(self, on: str) -> list[DeskAction]:
        """The actions of one place (``contact`` or ``home``) the acting user may see, by order then label."""
        return [c.item for c in self._visible("actions", lambda c: (c.item.order, c.item.label)) if c.item.on == on]

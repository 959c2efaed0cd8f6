"""``crm.plugin("api")``: the API plugin's object, for code and for its own commands."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_api.webhooks import Webhooks
    from crm_core.app import CRM

__all__ = ["ApiAPI"]


class ApiAPI:
    """The HTTP API plugin's facade: its webhooks service (the web app is ``crm_api.create_app``)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    @functools.cached_property
    def webhooks(self) -> Webhooks:
        """Subscriptions, deliveries and sending (``crm_api.webhooks.Webhooks``)."""
        from crm_api.webhooks import Webhooks

        return Webhooks(self.crm)

"""The standard reports, run by name: each a function ``(crm, **options) -> Report`` of :mod:`crm_analytics.reports`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from crm_analytics.reports import STANDARD

if TYPE_CHECKING:
    from crm_analytics.forecast import Forecasts
    from crm_analytics.result import Report
    from crm_core.app import CRM

__all__ = ["StandardReports"]


class StandardReports:
    """The standard reports of one app; the forecast is the :class:`~crm_analytics.forecast.Forecasts` service's."""

    def __init__(self, crm: CRM, forecasts: Forecasts) -> None:
        self.crm = crm
        self._forecasts = forecasts

    def titles(self) -> dict[str, str]:
        """Each standard report's name and one-line description, in the order ``crm reports list`` shows them."""
        return {name: text for name, (_, _, text) in STANDARD.items()}

    def run(self, name: str, **options: Any) -> Report:
        """Run standard report ``name`` with its options, over the records the acting user may read."""
        if name == "forecast":
            return self._forecasts.forecast(**options)
        module, function, _ = STANDARD[name]
        fn = getattr(importlib.import_module(module), function)
        with self.crm.activate():
            report: Report = fn(self.crm, **options)
            return report

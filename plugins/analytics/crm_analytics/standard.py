"""The standard reports, run by name: each a function ``(crm, **options) -> Report`` of :mod:`crm_analytics.reports`."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
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

    def options(self, name: str) -> tuple[str, ...]:
        """The options standard report ``name`` takes, besides the range (``start``, ``end``)."""
        module, function, _ = STANDARD[name]
        fn = getattr(importlib.import_module(module), function)
        return tuple(p for p in inspect.signature(fn).parameters if p not in ("crm", "start", "end"))

    def titles(self) -> dict[str, str]:
        """Each standard report's name and one-line description, in the order ``crm reports list`` shows them."""
        return {name: text for name, (_, _, text) in STANDARD.items()}

    def run(self, name: str, **options: Any) -> Report:
        """Run standard report ``name`` with its options, over the records the acting user may read."""
        module, function, _ = STANDARD[name]
        fn = getattr(importlib.import_module(module), function)
        _check_options(name, fn, options)
        if name == "forecast":
            return self._forecasts.forecast(**options)
        with self.crm.activate():
            report: Report = fn(self.crm, **options)
            return report


def _check_options(name: str, fn: Callable[..., Any], options: dict[str, Any]) -> None:
    """An option the report does not take is a ``ValidationError`` naming the ones it does."""
    known = [p for p in inspect.signature(fn).parameters if p != "crm"]
    unknown = sorted(set(options) - set(known))
    if unknown:
        from crm_core.errors import ValidationError

        takes = ", ".join(k for k in known if k not in ("start", "end")) or "none"
        raise ValidationError(f"report {name!r} takes no option {', '.join(unknown)}; its options are: {takes}")

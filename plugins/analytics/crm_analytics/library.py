"""Every report by name, standard or custom: what ``crm reports list`` shows and ``crm reports run`` runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from crm_analytics.custom import CustomReports
    from crm_analytics.result import Report
    from crm_analytics.standard import StandardReports

__all__ = ["ReportLibrary"]


class ReportLibrary:
    """The standard reports and the custom ones, found by name."""

    def __init__(self, standard: StandardReports, custom: CustomReports) -> None:
        self._standard = standard
        self._custom = custom

    def list(self) -> list[dict[str, str]]:
        """Every report: standard ones first, then custom ones by name (``name``, ``kind``, ``title``)."""
        out = [{"name": name, "kind": "standard", "title": text} for name, text in self._standard.titles().items()]
        for name, definition in sorted(self._custom.definitions().items()):
            out.append({"name": name, "kind": definition.origin, "title": definition.title})
        return out

    def run(
        self, name: str, start: Any = None, end: Any = None, *, period: str | None = None, **options: Any
    ) -> Report:
        """Run a report by name: standard (with its options), saved, or a plugin's."""
        titles = self._standard.titles()
        if name in titles:
            if name == "forecast":
                return self._standard.run(name, **options)
            if period is not None:
                options["period"] = period
            return self._standard.run(name, start=start, end=end, **options)
        definitions = self._custom.definitions()
        if name not in definitions:
            known = ", ".join([*titles, *sorted(definitions)])
            raise NotFoundError(f"there is no report {name!r:.80}; the reports are: {known} ('crm reports list')")
        if options:
            raise ValidationError(
                f"report {name!r} is a custom report; it takes --from, --to and --period only, not {', '.join(options)}"
            )
        return self._custom.run(definitions[name], start, end, period=period)

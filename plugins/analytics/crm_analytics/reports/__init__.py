"""The standard reports, each a function ``(crm, **options) -> Report`` computed in SQL."""

from __future__ import annotations

__all__ = ["STANDARD"]

#: name -> (module, function, one-line description)
STANDARD: dict[str, tuple[str, str, str]] = {
    "closed-share": (
        "crm_analytics.reports.sales",
        "closed_share",
        "Share of sales won per quarter, by count and amount, with lost and open.",
    ),
    "sales": ("crm_analytics.reports.sales", "sales", "Sales won per period by region (owner, product line)."),
    "pipeline": (
        "crm_analytics.reports.pipeline",
        "pipeline",
        "Open value per stage, conversion between stages, average days in stage.",
    ),
    "surveys": ("crm_analytics.reports.surveys", "surveys", "NPS, CSAT and response rates per quarter and region."),
    "customers": (
        "crm_analytics.reports.customers",
        "customers",
        "Customers, prospects and former customers per region/country; gained and lost.",
    ),
    "staff": (
        "crm_analytics.reports.staff",
        "staff",
        "Calls, meetings, notes, e-mails and tasks completed per staff member.",
    ),
    "forecast": (
        "crm_analytics.forecast",
        "forecast",
        "Sales forecast for the next quarters: open pipeline and history.",
    ),
}

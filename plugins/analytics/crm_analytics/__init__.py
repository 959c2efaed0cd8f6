"""The analytics plugin: standard and custom reports, charts, forecasts, scheduled reports.

Reach it through the app: ``crm.plugin("analytics")`` (see
:mod:`crm_analytics.api`). The entry module, :mod:`crm_analytics.plugin`,
holds the hook implementations only and is cheap to import.
"""

__version__ = "0.1.0"

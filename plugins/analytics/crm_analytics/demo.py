"""``crm demo``: the headline figures of the demo data, and a chart in the demo folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["load_demo"]


def _demo_folder(crm: CRM) -> Path:
    """The folder of the demo's SQLite file (or of the configuration for a server database)."""
    from crm_core.storage import dialect

    # the kernel has already resolved the URL into the file it opened
    if dialect(crm.database) == "sqlite" and crm.database.database != ":memory:":
        return Path(crm.database.database).resolve().parent
    return (crm.config.base_dir or Path.cwd()).resolve()


def load_demo(crm: CRM) -> list[str]:
    analytics = crm.plugin("analytics")
    lines = []
    share = analytics.closed_share(period="year")
    if share.empty:
        lines.append(share.empty_message)
    else:
        best = max(share.rows, key=lambda r: r["closed"])
        lines.append(
            f"{best['period']} ({best['currency']}): {best['won']} of {best['closed']} closed sales won "
            f"({best['won_share']}% by count, {best['won_amount_share']}% by amount), {best['open']} open at the end"
        )
        chart = _demo_folder(crm) / "closed-share.png"
        try:
            analytics.chart(analytics.closed_share(), chart, kind="stacked")
            lines.append(f"chart of the share won per quarter: {chart}")
        except OSError as exc:  # a read-only folder: the figures still count
            lines.append(f"no chart written ({exc})")
    forecast = analytics.forecast()
    for row in forecast.rows[:2]:
        hist = "" if row["history_forecast"] is None else f", history trend {row['history_forecast']}"
        lines.append(f"forecast {row['quarter']} {row['currency']}: weighted pipeline {row['weighted_pipeline']}{hist}")
    lines.append("try: crm reports list; crm reports closed-share; crm reports forecast")
    return lines

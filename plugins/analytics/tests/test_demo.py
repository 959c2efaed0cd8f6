"""The analytics part of `crm demo`: headline lines and a chart next to the demo database."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.sqlite_only
def test_demo_writes_its_chart_beside_the_sqlite_file(crm_factory, tmp_path):
    crm = crm_factory(plugins=["contacts", "warehouse", "analytics"])
    lines = [line for _, found in crm.hooks.demo_data(crm) for line in found]
    chart = Path(crm.database.database).resolve().parent / "closed-share.png"
    assert chart.exists() and chart.stat().st_size > 1000, lines
    assert any(str(chart) in line for line in lines), lines
    assert any("closed sales won" in line for line in lines), lines

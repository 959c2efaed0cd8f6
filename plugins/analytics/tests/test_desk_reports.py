"""The analytics pages of the staff web app (crm-desk): the reports list, a report, downloads, the forecast, schedules."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from crm_core.testing import statements

pytest.importorskip("crm_desk")

from crm_desk.testing import DeskClient  # noqa: E402

PASSWORD = "Correct-horse-42!"
SECRET = "analytics-desk-secret-0123456789-0123456789"
FROM, TO = "2025-01-01", "2025-06-30"


@pytest.fixture
def office(analytics_app: Callable[..., Any], crm_clock: Any, fill: Callable[..., Any]) -> Any:
    """The fixed data set (conftest) with the desk; users of each built-in role."""
    crm = analytics_app(plugins=["desk"], core={"secret": SECRET}, settings={"desk": {"base_url": "https://crm.example.com"}})
    crm.ids = fill(crm, crm_clock)
    for name, role in (("ana", "sales"), ("luis", "sales"), ("marta", "manager"), ("sam", "support"), ("rita", "read-only")):
        crm.authz.users.add(name, roles=[role], password=PASSWORD, email=f"{name}@example.com", timezone="Europe/Madrid")
    return crm


def desk_as(crm: Any, name: str) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    return desk


def test_smoke(office: Any) -> None:
    desk = desk_as(office, "marta")
    assert desk.get("/reports/").status_code == 200, desk.text
    for name in ("closed-share", "sales", "pipeline", "surveys", "customers", "staff"):
        answer = desk.get(f"/reports/view/{name}?run=1&from={FROM}&to={TO}")
        assert answer.status_code == 200, (name, desk.text[-3000:])
    assert desk.get("/reports/forecast").status_code == 200, desk.text[-3000:]
    assert desk.get("/reports/new").status_code == 200, desk.text[-3000:]
    assert desk.get("/reports/schedules").status_code == 200, desk.text[-3000:]
    assert desk.get(f"/reports/view/sales/chart.svg?run=1&from={FROM}&to={TO}").status_code == 200
    assert desk.get(f"/reports/view/sales/csv?run=1&from={FROM}&to={TO}").status_code == 200


"""Fixtures shared by the contacts plugin's tests (on top of crm_core.testing's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

#: the settings most tests use: national phone numbers are Spanish
SETTINGS = {"contacts": {"default_region": "ES"}}


@pytest.fixture
def contacts_app(crm_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``contacts_app(*extra_plugins, settings=...)``: a migrated app with the contacts plugin."""

    def make(*extra: Any, settings: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("mail", {"sender": "CRM <crm@example.com>"})
        return crm_factory(
            plugins=["contacts", *extra], settings=settings if settings is not None else SETTINGS, **kwargs
        )

    return make

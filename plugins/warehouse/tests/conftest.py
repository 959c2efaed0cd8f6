"""Fixtures shared by the warehouse's tests (on top of crm_core.testing's).

Most tests register the warehouse as an object plugin, alone: the store must
work from the contract's events only, whoever emits them. The tests that
need the contacts plugin enable both by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

import crm_warehouse.plugin as warehouse_plugin


@pytest.fixture
def warehouse_app(crm_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``warehouse_app(*extra_plugins, settings={...})``: a migrated app with the warehouse alone."""

    def make(*extra: Any, settings: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return crm_factory(
            plugins=[("warehouse", warehouse_plugin), *extra], settings={"warehouse": settings or {}}, **kwargs
        )

    return make


@pytest.fixture
def emit() -> Callable[..., None]:
    """``emit(app, *events)``: emit in one transaction; they are delivered when it commits."""

    def send(app: Any, *events: Any) -> None:
        with app.transaction():
            for event in events:
                app.emit(event)

    return send


def unknown_event(type_name: str = "acme.ParcelShipped", **fields: Any) -> Any:
    """An event of a type no installed code defines, as an uninstalled plugin would have left it."""
    from crm_hookspecs.events import UnknownEvent

    event_id = uuid.uuid4().hex
    payload = {"event_id": event_id, "actor": None, "channel": "system", **fields}
    return UnknownEvent(event_id=event_id, unknown_type=type_name, payload=payload)


@pytest.fixture
def make_unknown() -> Callable[..., Any]:
    return unknown_event


def _summary_rows(app: Any) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every summary table as ``{table: {summary_key: (key columns…, measures…)}}``, to compare two states."""
    from crm_warehouse.summaries.deltas import SPECS

    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    with app.activate():
        for spec in SPECS:
            model = spec.model
            fields = [getattr(model, c) for c in (*spec.key_columns, *spec.measures)]
            out[spec.table] = {key: tuple(rest) for key, *rest in model.select(model.summary_key, *fields).tuples()}
    return out


@pytest.fixture
def summary_rows() -> Callable[[Any], dict[str, dict[str, tuple[Any, ...]]]]:
    """``summary_rows(app)``: every summary table's rows by key (what a rebuild must leave as it found)."""
    return _summary_rows

"""Custom report definitions declared in TOML, parsed and validated against the catalog.

A definition names a view of :mod:`crm_analytics.catalog`, dimensions,
measures, filters, an optional period grouping, a sort order and a limit::

    name = "won-by-country"
    title = "Won sales by the contact's country"
    view = "sales"
    dimensions = ["contact.country"]
    period = { field = "closed_on", grain = "quarter" }
    measures = [{ name = "deals", agg = "count" }, { name = "revenue", agg = "sum", field = "amount" }]
    filters = [{ field = "outcome", op = "=", value = "won" }]
    sort = ["-revenue"]
    limit = 20

Nothing a file says reaches SQL as text: view and field names are looked up
in the catalog (a name that is not there is an error naming it), measure
names must be plain identifiers, and every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from crm_analytics.catalog import BOOL, CONTACT_FIELDS, DATE, DATETIME, NUMBER, TEXT, VIEWS
from crm_analytics.periods import GRAINS
from crm_analytics.result import ChartSpec
from crm_core.errors import ValidationError
from crm_core.ids import MAX_ID

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Definition", "FieldRef", "Filter", "Measure", "parse"]

AGGREGATES = ("count", "sum", "avg", "min", "max")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null")
KEYS = ("name", "title", "description", "view", "dimensions", "measures", "filters", "period", "sort", "limit", "chart")
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,59}$")
IDENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_LIMIT = 100_000


@attrs.frozen
class FieldRef:
    """A field of the view (``amount``) or of the contact it concerns (``contact.country``)."""

    path: str
    table: str  # "view" or "contact"
    column: str
    type: str

    @property
    def label(self) -> str:
        return self.path.replace(".", "_")


@attrs.frozen
class Measure:
    name: str
    agg: str
    field: FieldRef | None


@attrs.frozen
class Filter:
    field: FieldRef
    op: str
    value: Any


@attrs.frozen
class Definition:
    """A validated custom report."""

    name: str
    title: str
    view: str
    dimensions: tuple[FieldRef, ...]
    measures: tuple[Measure, ...]
    filters: tuple[Filter, ...] = ()
    period_field: FieldRef | None = None
    grain: str | None = None
    sort: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None
    chart: ChartSpec | None = None
    description: str = ""
    #: "saved", "file", "given" or the name of the plugin that contributed it
    origin: str = "saved"
    source: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        head = ("period",) if self.period_field else ()
        return (*head, *(d.label for d in self.dimensions), *(m.name for m in self.measures))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…'"


class _Checker:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, message: str) -> ValidationError:
        return ValidationError(f"{self.where}: {message}")


def parse(
    crm: CRM | None, data: Mapping[str, Any], *, origin: str = "file", where: str | None = None, source: str = ""
) -> Definition:
    """Validate a definition (the TOML as a dict); raise ``ValidationError`` naming the problem."""
    name = data.get("name") if isinstance(data, Mapping) else None
    check = _Checker(where or (f"report {name!r}" if isinstance(name, str) else "report"))
    if not isinstance(data, Mapping):
        raise check.fail(f"a report definition is a table of keys, not {type(data).__name__}")
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise check.fail(f"unknown key {_short(unknown[0])}; the keys are: {', '.join(KEYS)}")
    if not isinstance(name, str) or not NAME.match(name):
        raise check.fail(
            f"name {_short(name)} must be lower-case letters, digits, '-' or '_' (up to 60), starting with a letter"
        )
    check.where = where or f"report {name!r}"
    from crm_analytics.reports import STANDARD

    if name in STANDARD:
        raise check.fail(f"the name {name!r} is a standard report's; choose another")
    title = data.get("title", name)
    description = data.get("description", "")
    for key, value in (("title", title), ("description", description)):
        if not isinstance(value, str) or len(value) > 500:
            raise check.fail(f"{key} must be a text of up to 500 characters")
    view_name = data.get("view")
    if view_name not in VIEWS:
        raise check.fail(f"view {_short(view_name)} does not exist; the views are: {', '.join(VIEWS)}")
    view = VIEWS[view_name]

    def field(value: Any, what: str) -> FieldRef:
        if not isinstance(value, str):
            raise check.fail(f"{what} must name a field (a text), not {_short(value)}")
        if value.startswith("contact."):
            column = value[len("contact.") :]
            if not view.joins_contacts:
                raise check.fail(
                    f"{what} {_short(value)}: view {view_name!r} has no contact to join; use a field of the view"
                )
            if column not in CONTACT_FIELDS:
                raise check.fail(
                    f"{what} {_short(value)} does not exist; the contact fields are: {', '.join('contact.' + f for f in CONTACT_FIELDS)}"
                )
            return FieldRef(value, "contact", column, CONTACT_FIELDS[column])
        if value not in view.fields:
            raise check.fail(
                f"{what} {_short(value)} does not exist in view {view_name!r}; its fields are: {', '.join(view.fields)}"
            )
        return FieldRef(value, "view", value, view.fields[value])

    dims_raw = data.get("dimensions", [])
    if not isinstance(dims_raw, list) or len(dims_raw) > 6:
        raise check.fail("dimensions must be a list of up to 6 field names")
    dims = tuple(field(d, "dimension") for d in dims_raw)
    if len({d.path for d in dims}) != len(dims):
        raise check.fail("a dimension is listed twice")

    measures_raw = data.get("measures")
    if not isinstance(measures_raw, list) or not measures_raw or len(measures_raw) > 20:
        raise check.fail('measures must be a list of 1 to 20 tables such as { name = "deals", agg = "count" }')
    measures = []
    for i, m in enumerate(measures_raw, start=1):
        if not isinstance(m, Mapping):
            raise check.fail(f'measure {i} must be a table such as {{ agg = "sum", field = "amount" }}')
        extra = [k for k in m if k not in ("name", "agg", "field")]
        if extra:
            raise check.fail(f"measure {i}: unknown key {_short(extra[0])}; a measure has name, agg and field")
        agg = m.get("agg")
        if agg not in AGGREGATES:
            raise check.fail(f"measure {i}: agg {_short(agg)} is not one of {', '.join(AGGREGATES)}")
        ref = field(m["field"], f"measure {i}'s field") if m.get("field") is not None else None
        if ref is None and agg != "count":
            raise check.fail(f"measure {i}: {agg} needs a field (only count counts rows without one)")
        if ref is not None and agg in ("sum", "avg") and ref.type != NUMBER:
            raise check.fail(
                f"measure {i}: {agg} of {ref.path!r}, which is {ref.type}: sum and avg need a number field (count works on any field)"
            )
        if ref is not None and agg in ("min", "max") and ref.type in (TEXT, BOOL):
            raise check.fail(
                f"measure {i}: {agg} of {ref.path!r}, which is {ref.type}: min and max need a number, date or datetime field"
            )
        mname = m.get("name") or (f"{agg}_{ref.label}" if ref else agg)
        if not isinstance(mname, str) or not IDENT.match(mname):
            raise check.fail(
                f"measure {i}: name {_short(mname)} must be lower-case letters, digits and '_' (up to 40), starting with a letter"
            )
        measures.append(Measure(mname, agg, ref))
    names = [d.label for d in dims] + [m.name for m in measures] + ["period"]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise check.fail(
            f"the column name {twice[0]!r} is used twice (a measure and a dimension, or 'period'); rename the measure"
        )

    period_raw = data.get("period")
    period_field = grain = None
    if period_raw is not None:
        if not isinstance(period_raw, Mapping) or set(period_raw) - {"field", "grain"}:
            raise check.fail('period must be a table { field = "closed_on", grain = "quarter" }')
        period_field = field(period_raw.get("field"), "period field")
        if period_field.type not in (DATE, DATETIME):
            raise check.fail(
                f"period field {period_field.path!r} is {period_field.type}; periods need a date or datetime field"
            )
        grain = period_raw.get("grain", "quarter")
        if grain not in GRAINS:
            raise check.fail(f"period grain {_short(grain)} is not one of {', '.join(GRAINS)}")

    filters = []
    filters_raw = data.get("filters", [])
    if not isinstance(filters_raw, list) or len(filters_raw) > 20:
        raise check.fail(
            'filters must be a list of up to 20 tables such as { field = "outcome", op = "=", value = "won" }'
        )
    for i, f in enumerate(filters_raw, start=1):
        if not isinstance(f, Mapping) or set(f) - {"field", "op", "value"}:
            raise check.fail(f"filter {i} must be a table with field, op and value")
        ref = field(f.get("field"), f"filter {i}'s field")
        op = f.get("op", "=")
        if op not in OPERATORS:
            raise check.fail(f"filter {i}: op {_short(op)} is not one of {', '.join(OPERATORS)}")
        filters.append(Filter(ref, op, _filter_value(check, i, ref, op, f.get("value"))))

    sort = []
    sort_raw = data.get("sort", [])
    if not isinstance(sort_raw, list):
        raise check.fail('sort must be a list of column names, "-name" for descending')
    for s in sort_raw:
        if not isinstance(s, str) or s.lstrip("-") not in names:
            raise check.fail(
                f"sort {_short(s)} names no column of the report; the columns are: {', '.join(n for n in names if n != 'period' or period_field)}"
            )
        if s.lstrip("-") == "period" and not period_field:
            raise check.fail("sort by 'period' needs a period")
        sort.append((s.lstrip("-"), s.startswith("-")))
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT):
        raise check.fail(f"limit {_short(limit)} must be a whole number from 1 to {MAX_LIMIT}")

    chart = None
    chart_raw = data.get("chart")
    measure_names = [m.name for m in measures]
    x = "period" if period_field else (dims[0].label if dims else None)
    if chart_raw is not None:
        if not isinstance(chart_raw, Mapping) or set(chart_raw) - {"kind", "y"}:
            raise check.fail('chart must be a table { kind = "bar", y = ["revenue"] }')
        kind = chart_raw.get("kind", "bar")
        if kind not in ("bar", "line", "stacked"):
            raise check.fail(f"chart kind {_short(kind)} is not one of bar, line, stacked")
        y = chart_raw.get("y", measure_names[:1])
        if not isinstance(y, list) or not y or any(v not in measure_names for v in y):
            raise check.fail(f"chart y must list measures of the report ({', '.join(measure_names)})")
        chart = (kind, tuple(y))
    if x is not None:
        kind, y = chart or ("bar", tuple(measure_names[:1]))
        group = tuple(d.label for d in dims if d.label != x)
        chart_spec: ChartSpec | None = ChartSpec(x=x, y=y, group=group, kind=kind)
    else:
        chart_spec = None
    return Definition(
        name=name, title=title, view=view_name, dimensions=dims, measures=tuple(measures), filters=tuple(filters),
        period_field=period_field, grain=grain, sort=tuple(sort), limit=limit, chart=chart_spec,
        description=description, origin=origin, source=source,
    )  # fmt: skip


def _filter_value(check: _Checker, i: int, ref: FieldRef, op: str, value: Any) -> Any:
    if op in ("is null", "is not null"):
        if value is not None:
            raise check.fail(f"filter {i}: {op!r} takes no value")
        return None
    if op in ("in", "not in"):
        if not isinstance(value, list) or not 1 <= len(value) <= 1000:
            raise check.fail(f"filter {i}: {op!r} needs a list of 1 to 1000 values")
        return tuple(_scalar(check, i, ref, v) for v in value)
    return _scalar(check, i, ref, value)


def _scalar(check: _Checker, i: int, ref: FieldRef, value: Any) -> Any:
    kind = ref.type
    bad = check.fail(f"filter {i}: {_short(value)} is not a {kind} value for {ref.path!r}")
    if kind == NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        # TOML writes nan and inf as plain numbers: no row compares sensibly with them,
        # and an integer past 64 bits cannot be bound on any backend
        if isinstance(value, float) and not math.isfinite(value):
            raise check.fail(
                f"filter {i}: {value!r} for {ref.path!r} is not a number to compare with; give a finite one"
            )
        if isinstance(value, int) and not -MAX_ID - 1 <= value <= MAX_ID:
            raise check.fail(
                f"filter {i}: {value} for {ref.path!r} is out of range; numbers go from {-MAX_ID - 1} to {MAX_ID}"
            )
        return value
    if kind == BOOL:
        if not isinstance(value, bool):
            raise bad
        return value
    if kind == TEXT:
        if not isinstance(value, str) or len(value) > 500:
            raise bad
        return value
    if kind == DATE:
        if isinstance(value, dt.datetime):
            raise bad
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise bad from None
        raise bad
    # datetime: an aware datetime, or a date meaning local midnight
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value) if "T" in value or " " in value else dt.date.fromisoformat(value)
        except ValueError:
            raise bad from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise check.fail(
                f"filter {i}: {value.isoformat()} for {ref.path!r} needs a time zone (e.g. 2026-01-31T09:00:00+01:00), or give a date"
            )
        return value
    if isinstance(value, dt.date):
        return value
    raise bad

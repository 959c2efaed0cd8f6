"""Custom reports: the saved ones, those plugins contribute, report files; and running them.

A definition (:mod:`crm_analytics.definitions`) names a view of the catalog;
running it selects from that view's reporting table as
:class:`~crm_analytics.sql.Tables` gives it, that is limited to the rows the
acting user may read: a custom report can filter and group, never widen
the scope.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_analytics.catalog import BOOL, DATE, DATETIME, NUMBER, VIEWS
from crm_analytics.definitions import Definition, FieldRef, parse
from crm_analytics.periods import bucket, utc_bounds
from crm_analytics.result import Note, Report
from crm_analytics.sql import fetch, number, param
from crm_core.clock import naive_utc
from crm_core.errors import CRMError, NotFoundError, PluginError, ValidationError
from crm_core.i18n import N_

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["CustomReports", "Definition", "parse", "to_toml"]

MAX_FILE = 100_000


class CustomReports:
    """The custom reports of one app: saved (``crm reports add``), contributed by plugins, or files."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def definitions(self) -> dict[str, Definition]:
        """Saved reports and those plugins contribute, by name; a saved report may not take a plugin's name."""
        with self.crm.activate():
            contributed = _contributed(self.crm)
            saved = _saved(self.crm)
        return {**contributed, **{k: v for k, v in saved.items() if k not in contributed}}

    def load(self, path: str | Path) -> Definition:
        """Read and validate a report file (TOML)."""
        return _load_file(self.crm, path)

    def check(self, source: str | Path | Mapping[str, Any]) -> Definition:
        """Validate a definition given as a file path or a dict; raise ``ValidationError`` naming the problem."""
        if isinstance(source, Mapping):
            return parse(self.crm, source, origin="given")
        return self.load(source)

    def save(self, path: str | Path, *, actor: str | None = None, replace: bool = False) -> Definition:
        """Validate a report file and save it under its name; ``actor`` is recorded as who created it."""
        return _save(self.crm, path, actor=actor, replace=replace)

    def save_mapping(self, data: Mapping[str, Any], *, actor: str | None = None, replace: bool = False) -> Definition:
        """Validate a definition given as a dict (a report file's keys) and save it under its name."""
        definition = parse(self.crm, data, origin="given")
        return _store(self.crm, attrs.evolve(definition, source=to_toml(data)), actor=actor, replace=replace)

    def creator(self, name: str) -> str | None:
        """Who saved report ``name`` (a user name; ``None`` for the system); ``NotFoundError`` when none is saved."""
        from crm_analytics.models import SavedReport

        with self.crm.activate():
            row = SavedReport.get_or_none(SavedReport.name == name)
        if row is None:
            raise NotFoundError(f"there is no saved report {name!r}; 'crm reports list' shows the reports")
        found: str | None = row.created_by
        return found

    def saved(self, edit_permission: str) -> list[dict[str, Any]]:
        """The saved reports (name, title, saved_by, updated_at) and whether the acting user may change each.

        ``editable`` comes from the same query, through the scope of
        ``edit_permission`` on the report's creator (``crm.authz.where``), so
        a list of many reports costs one statement.
        """
        from crm_analytics.models import SavedReport
        from crm_core.errors import PermissionDenied

        authz = self.crm.authz
        try:
            mine: Any = authz.where(edit_permission, SavedReport.created_by, owner_is="name")
        except PermissionDenied:
            mine = None
        editable = peewee.Case(None, [(mine, 1)], 0) if mine is not None else peewee.Value(0)
        with self.crm.activate():
            if not SavedReport.table_exists():  # type: ignore[no-untyped-call]  # peewee stubs leave it unannotated
                return []
            query = SavedReport.select(
                SavedReport.name,
                SavedReport.title,
                SavedReport.created_by,
                SavedReport.updated_at,
                editable.alias("editable"),
            ).order_by(SavedReport.name)
            return [
                {
                    "name": row.name,
                    "title": row.title,
                    "saved_by": row.created_by,
                    "updated_at": row.updated_at,
                    "editable": bool(getattr(row, "editable", 0)),
                }
                for row in query
            ]

    def source(self, name: str) -> str:
        """The TOML text saved report ``name`` keeps; ``NotFoundError`` when none is saved under that name."""
        from crm_analytics.models import SavedReport

        with self.crm.activate():
            row = SavedReport.get_or_none(SavedReport.name == name)
        if row is None:
            raise NotFoundError(f"there is no saved report {name!r}; 'crm reports list' shows the reports")
        text: str = row.source
        return text

    def remove(self, name: str) -> None:
        """Remove a saved report."""
        from crm_analytics.models import SavedReport

        with self.crm.transaction():
            if SavedReport.delete().where(SavedReport.name == name).execute() != 1:
                raise NotFoundError(f"there is no saved report {name!r}; 'crm reports list' shows the reports")

    def run(self, definition: Definition, start: Any = None, end: Any = None, *, period: str | None = None) -> Report:
        """Run a definition over the rows of its view that the acting user may read."""
        with self.crm.activate():
            return _run(self.crm, definition, start, end, period=period)


# -- sources of definitions ----------------------------------------------------


def _load_file(crm: CRM, path: str | Path) -> Definition:
    """Read and validate a report file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read the report file {str(path)!r}: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE:
        raise ValidationError(f"{path}: a report file is at most {MAX_FILE:,} bytes")
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"{path}: not a valid TOML file: {exc}") from None
    definition = parse(crm, data, origin="file", source=text)
    return attrs.evolve(definition, source=text)


def _saved(crm: CRM) -> dict[str, Definition]:
    from crm_analytics.models import SavedReport

    out = {}
    with crm.activate():
        if not SavedReport.table_exists():  # type: ignore[no-untyped-call]  # peewee stubs leave it unannotated
            return {}
        for row in SavedReport.select().order_by(SavedReport.name):
            try:
                data = tomllib.loads(row.source)
            except tomllib.TOMLDecodeError as exc:
                raise CRMError(
                    f"saved report {row.name!r} no longer parses ({exc}); remove it with 'crm reports remove {row.name}'"
                ) from None
            out[row.name] = parse(crm, data, origin="saved", source=row.source)
    return out


def _contributed(crm: CRM) -> dict[str, Definition]:
    out: dict[str, Definition] = {}
    for plugin, items in crm.hooks.report_definitions(crm):
        for item in items:
            name = item.get("name") if isinstance(item, Mapping) else None
            where = f"plugin {plugin!r}: report {name!r}" if isinstance(name, str) else f"plugin {plugin!r}: a report"
            try:
                definition = parse(crm, item, origin=plugin, where=where)
            except ValidationError as exc:
                raise PluginError(plugin, f"{exc}; fix the plugin's crm_report_definitions") from None
            if definition.name in out:
                raise PluginError(
                    plugin,
                    f"{where}: the name is already used by plugin {out[definition.name].origin!r}; choose another",
                )
            out[definition.name] = definition
    return out


def _save(crm: CRM, path: str | Path, *, actor: str | None = None, replace: bool = False) -> Definition:
    return _store(crm, _load_file(crm, path), actor=actor, replace=replace)


def _store(crm: CRM, definition: Definition, *, actor: str | None = None, replace: bool = False) -> Definition:
    """Save a validated definition (its ``source`` is the TOML kept) under its name."""
    from crm_analytics.models import SavedReport

    if definition.name in _contributed(crm):
        raise ValidationError(
            f"report {definition.name!r} is contributed by plugin {_contributed(crm)[definition.name].origin!r}; give yours another name"
        )
    now = crm.clock.now()
    with crm.transaction():
        existing = SavedReport.get_or_none(SavedReport.name == definition.name)
        if existing is not None and not replace:
            raise ValidationError(
                f"a report named {definition.name!r} is saved already; use --replace (over HTTP, replace=true) to replace it"
            )
        if existing is None:
            SavedReport.create(
                name=definition.name,
                title=definition.title,
                source=definition.source,
                created_at=now,
                created_by=actor,
                updated_at=now,
            )
        else:
            SavedReport.update(title=definition.title, source=definition.source, updated_at=now).where(
                SavedReport.id == existing.id
            ).execute()
    return attrs.evolve(definition, origin="saved")


# -- running -------------------------------------------------------------------


def _run(crm: CRM, definition: Definition, start: Any = None, end: Any = None, *, period: str | None = None) -> Report:
    from crm_analytics.reports.common import window
    from crm_analytics.sql import Tables

    tables = Tables(crm)
    kind = tables.kind
    view = VIEWS[definition.view]
    T = tables[view.role]
    refs = [
        *definition.dimensions,
        *(m.field for m in definition.measures if m.field),
        *(f.field for f in definition.filters),
    ]
    if definition.period_field:
        refs.append(definition.period_field)
    C = tables["contacts"].alias("c") if any(r.table == "contact" for r in refs) else None

    def column(ref: FieldRef) -> Any:
        source = T if ref.table == "view" else C
        assert source is not None  # C is made whenever a field of the contact is named
        return getattr(source.c, ref.column)

    def value(ref: FieldRef, v: Any) -> Any:
        if ref.type == DATETIME:
            if isinstance(v, dt.datetime):
                v = naive_utc(v)
            else:
                v = utc_bounds([v], crm.tz)[0]
        if ref.type == BOOL and kind != "postgresql":
            v = int(v)
        return param(kind, v)

    selected: list[Any] = []
    group: list[Any] = []
    where: list[Any] = []
    order_nodes: dict[str, Any] = {}
    win = None
    if definition.period_field:
        win = window(crm, start, end, period or definition.grain)
        bounds = win.utc_bounds() if definition.period_field.type == DATETIME else win.date_bounds()
        pcol = column(definition.period_field)
        node = bucket(pcol, bounds)
        selected.append(node.alias("period"))
        group.append(peewee.SQL("1"))
        order_nodes["period"] = peewee.SQL("1")  # the first column (a one-period bucket is a bare 0)
        where += [pcol >= bounds[0], pcol < bounds[-1]]
    elif start is not None or end is not None or period is not None:
        raise ValidationError(
            f"report {definition.name!r} has no period field, so it takes no --from, --to or --period"
        )
    for d in definition.dimensions:
        col = column(d)
        selected.append(col.alias(d.label))
        group.append(col)
        order_nodes[d.label] = col
    for m in definition.measures:
        col = column(m.field) if m.field else None
        if m.agg == "count":
            node = peewee.fn.COUNT(col if col is not None else peewee.SQL("*"))
        else:  # sum, avg, min, max: checked against the definition's aggregates when it was read
            node = getattr(peewee.fn, m.agg.upper())(col)
        selected.append(node.alias(m.name))
        order_nodes[m.name] = node
    for f in definition.filters:
        col = column(f.field)
        if f.op == "is null":
            where.append(col.is_null())
        elif f.op == "is not null":
            where.append(col.is_null(False))
        elif f.op == "in":
            where.append(col.in_([value(f.field, v) for v in f.value]))
        elif f.op == "not in":
            where.append(col.not_in([value(f.field, v) for v in f.value]))
        else:
            v = value(f.field, f.value)
            where.append(
                {"=": col == v, "!=": col != v, "<": col < v, "<=": col <= v, ">": col > v, ">=": col >= v}[f.op]
            )
    if view.live_contacts:
        where += [T.c.deleted_at.is_null(), T.c.merged_into.is_null()]
    query = T.select(*selected)
    if C is not None:
        query = query.join(C, peewee.JOIN.LEFT_OUTER, on=(C.c.id == T.c.contact_id))
    if where:
        query = query.where(*where)
    if group:
        query = query.group_by(*group)
    order = [order_nodes[n].desc() if desc else order_nodes[n] for n, desc in definition.sort]
    order += [
        order_nodes[n]
        for n in ("period", *(d.label for d in definition.dimensions))
        if n in order_nodes and n not in dict(definition.sort)
    ]
    if order:
        query = query.order_by(*order)
    if definition.limit:
        query = query.limit(definition.limit)
    rows = []
    types = {
        **({"period": "period"} if definition.period_field else {}),
        **{d.label: d.type for d in definition.dimensions},
    }
    types.update(
        {m.name: (m.field.type if m.field and m.agg in ("min", "max") else m.agg) for m in definition.measures}
    )
    for values in fetch(query, tables):
        row = {}
        for name, v in zip(definition.columns, values):
            row[name] = _output(types[name], v, win)
        rows.append(row)
    if not group and rows and all(v in (None, 0) for v in rows[0].values()):
        rows = []  # aggregates over no rows at all
    if win:
        empty = Note(N_("no data: no rows of %(view)s match report %(name)s between %(start)s and %(end)s"),
                     view=definition.view, name=repr(definition.name), start=win.start, end=win.end)  # fmt: skip
    else:
        empty = Note(N_("no data: no rows of %(view)s match report %(name)s"), view=definition.view,
                     name=repr(definition.name))  # fmt: skip
    return Report(
        name=definition.name,
        title=definition.title,
        columns=definition.columns,
        rows=tuple(rows),
        start=win.start if win else None,
        end=win.end if win else None,
        period=win.grain if win else None,
        periods=win.labels() if win else (),
        notes=win.notes() if win else (),
        empty_message=empty,
        chart=definition.chart,
    )


def _output(kind: str, v: Any, win: Any) -> Any:
    if v is None:
        return None
    if kind == "period":
        return win.label(int(v))
    if kind == "count":
        return int(v)
    if kind in ("sum", "avg", NUMBER):
        v = number(v)
        if isinstance(v, float):
            return int(v) if v.is_integer() and kind != "avg" else round(v, 4)
        return v
    if kind == DATE and isinstance(v, str):
        return dt.date.fromisoformat(v[:10])
    if kind == DATETIME:
        if isinstance(v, str):
            v = dt.datetime.fromisoformat(v)
        if isinstance(v, dt.datetime) and v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v
    if kind == BOOL:
        return bool(v)
    return v


def to_toml(data: Mapping[str, Any]) -> str:
    """A definition given as a dict (JSON's values) as the TOML text a saved report keeps.

    JSON's strings are TOML's basic strings; a table inside becomes an
    inline table. ``null`` has no TOML form, so it is refused by name.
    """
    import json

    def value(item: Any, where: str) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, (int, float)) and math.isfinite(item):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item, ensure_ascii=False)
        if isinstance(item, (list, tuple)):
            return "[" + ", ".join(value(v, f"{where}[{i}]") for i, v in enumerate(item)) + "]"
        if isinstance(item, Mapping):
            pairs = (f"{json.dumps(str(k), ensure_ascii=False)} = {value(v, f'{where}.{k}')}" for k, v in item.items())
            return "{" + ", ".join(pairs) + "}"
        raise ValidationError(f"{where}: {item!r} has no place in a report definition; leave the key out instead")

    return "".join(f"{json.dumps(str(k), ensure_ascii=False)} = {value(v, str(k))}\n" for k, v in data.items())

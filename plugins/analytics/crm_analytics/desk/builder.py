"""The custom report builder: a form that writes the TOML definition ``crm reports add`` takes.

The fields offered come from the catalog (:mod:`crm_analytics.catalog`):
the view, its fields (and the contact's, for a view that has one) as
dimensions, the date fields as the period, measures and filters. Every
change is checked as it is made (htmx posts the form to ``/reports/new/check``,
which answers the form again with the error beside its field and the TOML
it would save); without JavaScript, "Preview" and "Save" do the same.
Checks, runs and saves go through ``crm.plugin("analytics")`` (``check``,
``run_definition``, ``save_definition``) as the signed-in user.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

import flask
from flask import g, request
from werkzeug.exceptions import NotFound

from crm_analytics.catalog import BOOL, CONTACT_FIELDS, DATE, DATETIME, NUMBER, VIEWS
from crm_analytics.definitions import AGGREGATES, OPERATORS
from crm_analytics.desk.options import GRAIN_LABELS
from crm_analytics.desk.views import api
from crm_core.errors import PermissionDenied, ValidationError
from crm_core.i18n import gettext as _

__all__ = ["check", "edit_report", "new_report", "remove_report"]

MEASURES = 4
FILTERS = 3
GRAINS = ("quarter", "month", "week", "year", "all")
CHART_KINDS = ("bar", "line", "stacked")
_SIMPLE = ("name", "title", "description", "view", "period_field", "grain", "sort", "limit", "chart_kind")
_INT = re.compile(r"^-?\d+$")


def _fields_of(view: str) -> list[tuple[str, str]]:
    """``(path, type)`` of every field a definition on ``view`` may name."""
    found = VIEWS.get(view) or VIEWS["sales"]
    out = list(found.fields.items())
    if found.joins_contacts:
        out += [(f"contact.{name}", kind) for name, kind in CONTACT_FIELDS.items()]
    return out


def read_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """The builder's fields from a posted form (``request.form``), as the page shows them again."""
    form: dict[str, Any] = {key: str(data.get(key, "")).strip() for key in _SIMPLE}
    if form["view"] not in VIEWS:
        form["view"] = form["view"] or "sales"
    form["dimensions"] = (
        list(data.getlist("dimensions")) if hasattr(data, "getlist") else list(data.get("dimensions", []))
    )
    for i in range(1, MEASURES + 1):
        for part in ("name", "agg", "field"):
            form[f"m{i}_{part}"] = str(data.get(f"m{i}_{part}", "")).strip()
    for i in range(1, FILTERS + 1):
        for part in ("field", "op", "value"):
            form[f"f{i}_{part}"] = str(data.get(f"f{i}_{part}", "")).strip()
    return form


def _value(kind: str, text: str) -> Any:
    """A filter's text as the TOML value of a field of ``kind``; ``ValueError`` when it is not one."""
    if kind == NUMBER:
        if _INT.match(text):
            return int(text)
        return float(text.replace(",", "."))  # ValueError for words
    if kind == BOOL:
        lowered = text.lower()
        if lowered in ("true", "yes", "1", "sí", "si"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise ValueError(text)
    return text


def to_definition(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The definition (a report file's keys) the form describes, and the fields whose text cannot be one."""
    errors: dict[str, str] = {}
    types = dict(_fields_of(form["view"]))
    data: dict[str, Any] = {"name": form["name"]}
    for key in ("title", "description"):
        if form[key]:
            data[key] = form[key]
    data["view"] = form["view"]
    dims = [d for d in form["dimensions"] if d]
    if dims:
        data["dimensions"] = dims
    if form["period_field"]:
        data["period"] = {"field": form["period_field"], "grain": form["grain"] or "quarter"}
    measures = []
    for i in range(1, MEASURES + 1):
        name, agg, field = form[f"m{i}_name"], form[f"m{i}_agg"], form[f"m{i}_field"]
        if not (name or agg or field):
            continue
        measure: dict[str, Any] = {}
        if name:
            measure["name"] = name
        measure["agg"] = agg or "count"
        if field:
            measure["field"] = field
        measures.append(measure)
    data["measures"] = measures
    filters = []
    for i in range(1, FILTERS + 1):
        field, op, text = form[f"f{i}_field"], form[f"f{i}_op"] or "=", form[f"f{i}_value"]
        if not field:
            if text:
                errors[f"f{i}"] = _("Choose the field this value is compared with.")
            continue
        item: dict[str, Any] = {"field": field, "op": op}
        kind = types.get(field, "text")
        try:
            if op in ("in", "not in"):
                item["value"] = [_value(kind, part.strip()) for part in text.split(",") if part.strip()]
            elif op not in ("is null", "is not null"):
                if not text:
                    errors[f"f{i}"] = _("Give the value to compare with.")
                    continue
                item["value"] = _value(kind, text)
        except ValueError:
            errors[f"f{i}"] = {
                NUMBER: _("%(field)s holds numbers: write one, such as 1000 or 99.5.", field=field),
                BOOL: _("%(field)s is yes or no: write true or false.", field=field),
            }.get(kind, _("This value does not fit %(field)s.", field=field))
            continue
        filters.append(item)
    if filters:
        data["filters"] = filters
    if form["sort"]:
        data["sort"] = [part.strip() for part in form["sort"].split(",") if part.strip()]
    if form["limit"]:
        if not form["limit"].isdigit():
            errors["limit"] = _("Write the most rows as a whole number, such as 20, or leave it empty.")
        else:
            data["limit"] = int(form["limit"])
    if form["chart_kind"]:
        data["chart"] = {"kind": form["chart_kind"]}
    return data, errors


#: a refusal of the plugin (``report 'x': <what>``) -> the field it is about
_FIELD_OF = (
    (re.compile(r"^measure (\d+)"), "m{}"),
    (re.compile(r"^filter (\d+)"), "f{}"),
    (re.compile(r"^(measures must|the column name)"), "m1"),
    (re.compile(r"^filters must"), "f1"),
    (re.compile(r"^(name|the name)\b"), "name"),
    (re.compile(r"^title"), "title"),
    (re.compile(r"^description"), "description"),
    (re.compile(r"^view"), "view"),
    (re.compile(r"^(dimension|a dimension)"), "dimensions"),
    (re.compile(r"^period"), "period_field"),
    (re.compile(r"^sort"), "sort"),
    (re.compile(r"^limit"), "limit"),
    (re.compile(r"^chart"), "chart_kind"),
)


def field_of(message: str) -> str:
    """The builder's field a ``ValidationError`` of ``parse`` names (its text after ``report 'x': ``)."""
    what = message.split(": ", 1)[1] if message.startswith("report") and ": " in message else message
    for pattern, field in _FIELD_OF:
        found = pattern.match(what)
        if found:
            return field.format(*found.groups()) if "{}" in field else field
    return "name"


def _plain(message: str) -> str:
    """A refusal without its ``report 'name': `` prefix: it stands beside the field, in the report's form."""
    return message.split(": ", 1)[1] if message.startswith("report ") and ": " in message else message


def _check(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str], Any]:
    """The definition, the errors by field, and the validated definition (None when there are errors)."""
    data, errors = to_definition(form)
    if errors:
        return data, errors, None
    try:
        return data, {}, api().check(data)
    except ValidationError as exc:
        return data, {field_of(str(exc)): _plain(str(exc))}, None


def _toml(data: Mapping[str, Any]) -> str:
    from crm_analytics.custom import to_toml

    try:
        return to_toml(data)
    except ValidationError:
        return ""


def _render(form: dict[str, Any], errors: dict[str, str], *, editing: str | None = None, fragment: bool = False,
            preview: Any = None, status: int = 200) -> Any:  # fmt: skip
    data, _ignored = to_definition(form)
    fields = _fields_of(form["view"])
    values = {
        "form": form,
        "errors": errors,
        "editing": editing,
        "views": [(name, f"{name}: {view.title}") for name, view in VIEWS.items()],
        "fields": [(path, path) for path, _kind in fields],
        "dates": [("", _("No period"))] + [(p, p) for p, k in fields if k in (DATE, DATETIME)],
        "grains": [(grain, _(GRAIN_LABELS[grain])) for grain in GRAINS],
        "aggregates": [("", "")] + [(a, a) for a in AGGREGATES],
        "operators": [(op, op) for op in OPERATORS],
        "measure_fields": [("", _("(rows)"))] + [(path, path) for path, _kind in fields],
        "filter_fields": [("", "")] + [(path, path) for path, _kind in fields],
        "chart_kinds": [("", _("Default"))] + [(k, k) for k in CHART_KINDS],
        "measures": range(1, MEASURES + 1),
        "filters": range(1, FILTERS + 1),
        "toml": _toml(data),
        "preview": preview,
    }
    template = "analytics/_builder_form.html" if fragment else "analytics/builder.html"
    if preview is not None:
        from crm_analytics.desk.formatting import say, table

        values["heads"], values["rows"] = table(preview.columns, preview.rows[:200], standard=False)
        values["preview_empty"] = say(preview.empty_message)
    return flask.render_template(template, **values), status


def _blank() -> dict[str, Any]:
    form = read_form({})
    form.update(view="sales", grain="quarter", m1_agg="count")
    return form


def new_report() -> Any:
    """GET: an empty builder; POST: preview (run without saving), refresh the view's fields, or save."""
    g.crm.authz.require("analytics.reports.create")
    if request.method == "GET":
        return _render(_blank(), {})
    return _submit(read_form(request.form), editing=None)


def _submit(form: dict[str, Any], *, editing: str | None) -> Any:
    action = request.form.get("action", "save")
    if action == "refresh":
        return _render(form, {}, editing=editing)
    data, errors, definition = _check(form)
    if errors:
        return _render(form, errors, editing=editing, status=400)
    if action == "preview":
        report = api().run_definition(definition)
        return _render(form, {}, editing=editing, preview=report)
    try:
        saved = api().save_definition(data, replace=editing is not None)
    except ValidationError as exc:
        message = str(exc)
        if "saved already" in message:
            message = _(
                "A report named %(name)s is saved already: choose another name, or edit that one.", name=data["name"]
            )
        elif "contributed by plugin" in message:
            message = _("A plugin's report is called %(name)s: choose another name.", name=data["name"])
        return _render(form, {field_of(str(exc)): message}, editing=editing, status=400)
    flask.flash(_("Report saved: %(title)s", title=saved.title), "success")
    return flask.redirect(flask.url_for("reports.report", name=saved.name), 303)


def check() -> Any:
    """htmx: the builder's form again, with the first problem beside its field and the TOML so far."""
    g.crm.authz.require("analytics.reports.create")
    form = read_form(request.form)
    editing = request.form.get("editing") or None
    if editing is not None:
        form["name"] = editing
    _data, errors, _definition = _check(form)
    if not any(form[f"m{i}_{p}"] for i in range(1, MEASURES + 1) for p in ("name", "agg", "field")):
        errors.pop("m1", None)  # no measure chosen yet: the hint under the measures says what to do
    return _render(form, errors, editing=editing, fragment=True)


def _editable(name: str) -> dict[str, Any]:
    """Saved report ``name`` if the user may change it: ``404`` when none is saved, or when it is out of scope."""
    for row in api().saved():
        if row["name"] == name:
            if not row["editable"]:
                g.crm.authz.require("analytics.reports.edit")  # no grant at all: 403
                raise PermissionDenied(f"report {name!r} is outside what you may edit", "analytics.reports.edit",
                                       record=True)  # fmt: skip
            return row
    raise NotFound(_("There is no saved report %(name)s.", name=name))


def _form_of(source: str) -> dict[str, Any]:
    """A saved definition's TOML as the builder's fields."""
    data = tomllib.loads(source)
    form = _blank()
    form["m1_agg"] = ""
    for key in ("name", "title", "description", "view"):
        form[key] = str(data.get(key, ""))
    form["dimensions"] = list(data.get("dimensions", []))
    period = data.get("period") or {}
    form["period_field"], form["grain"] = period.get("field", ""), period.get("grain", "quarter")
    for i, m in enumerate(data.get("measures", [])[:MEASURES], start=1):
        form[f"m{i}_name"], form[f"m{i}_agg"], form[f"m{i}_field"] = (
            m.get("name", ""),
            m.get("agg", ""),
            m.get("field", ""),
        )
    for i, f in enumerate(data.get("filters", [])[:FILTERS], start=1):
        value = f.get("value", "")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        form[f"f{i}_field"], form[f"f{i}_op"], form[f"f{i}_value"] = f.get("field", ""), f.get("op", "="), str(value)
    form["sort"] = ", ".join(data.get("sort", []))
    form["limit"] = str(data.get("limit", ""))
    form["chart_kind"] = (data.get("chart") or {}).get("kind", "")
    return form


def edit_report(name: str) -> Any:
    """A saved report in the builder: GET fills the form from its TOML; POST replaces it (the name stays)."""
    g.crm.authz.require("analytics.reports.edit")
    _editable(name)
    if request.method == "GET":
        return _render(_form_of(api().source(name)), {}, editing=name)
    form = read_form(request.form)
    form["name"] = name
    return _submit(form, editing=name)


def remove_report(name: str) -> Any:
    """Remove a saved report (POST, ``analytics.reports.edit`` over it)."""
    row = _editable(name)
    api().remove(name)
    flask.flash(_("Report removed: %(title)s", title=row["title"] or name), "success")
    return flask.redirect(flask.url_for("reports.index"), 303)

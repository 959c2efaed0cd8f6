"""The import wizard: upload a CSV or vCard file, check its layout and mapping, try it, import it, follow it.

Every step goes through the contacts API as the signed-in user
(``contacts.import``): the uploaded file is held (:meth:`hold_import`) with
its options until it is tried (a dry run) and imported, and both are the
imports the REST API queues (``POST /imports``): the worker's job
``contacts.imports`` runs them, storing their progress, report and problem
rows in ``contacts_import``. The run's page polls that progress with htmx
(every second), or reloads itself without JavaScript, so it survives a
reload, another tab or a closed laptop.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import g, redirect, request, url_for

from crm_contacts.desk.import_texts import (
    DELIMITER_LABELS,
    DELIMITER_VALUES,
    ENCODING_LABELS,
    LAYOUT_LABELS,
    MATCH_LABELS,
    TARGETS,
    refusal,
    size,
)
from crm_contacts.importpreview import ENCODINGS, FilePreview, FileRefused, preview
from crm_contacts.mapping import detect, duplicate_targets, mapping_file_text, parse_target, target_text
from crm_contacts.matching import DEFAULT_MATCH_KEYS, MATCH_KEYS
from crm_core.errors import NotFoundError, ValidationError
from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = ["MAX_UPLOAD", "register"]

#: the largest file the wizard takes (about 50,000 rows of a contacts export); the CLI has no limit
MAX_UPLOAD = 10 * 1024 * 1024
#: the largest request body the upload page reads at all (the file and the form around it); a larger one
#: is refused before it is read, with the same limit named
MAX_BODY = MAX_UPLOAD + 1024 * 1024
#: problem rows shown on a run's page (all of them are in the download)
SHOWN_PROBLEMS = 100


def _api() -> Any:
    return g.crm.plugin("contacts")


# -- step 1: upload --------------------------------------------------------------


def _encodings() -> list[tuple[str, str]]:
    return [("", _("Detect it"))] + [(e, _(ENCODING_LABELS[e])) for e in ENCODINGS]


def _delimiters() -> list[tuple[str, str]]:
    return [("", _("Detect it"))] + [(DELIMITER_VALUES[d], _(label)) for d, label in DELIMITER_LABELS.items()]


def _start_page(errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status: int = 200) -> Any:
    runs = _api().import_runs(limit=20)
    return (
        flask.render_template(
            "contacts/import_start.html",
            errors=errors or {},
            values=values or {},
            encodings=_encodings(),
            delimiters=_delimiters(),
            runs=runs,
            limit=size(MAX_UPLOAD),
        ),
        status,
    )


def start() -> Any:
    """GET: the upload form and the user's imports; POST: hold the file and show its layout."""
    g.crm.authz.require("contacts.import")
    if request.method == "GET":
        return _start_page()
    values = {name: request.form.get(name, "") for name in ("encoding", "delimiter")}
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _start_page({"file": _("Choose the CSV or vCard file to import.")}, values, 422)
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or "contacts.csv"
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        message = _(
            "%(name)s is larger than %(limit)s, the most the import wizard takes. Split it into smaller files, or "
            "import it with the command crm contacts import, which has no size limit.",
            name=name,
            limit=size(MAX_UPLOAD),
        )
        return _start_page({"file": message}, values, 413)
    encoding = values["encoding"] if values["encoding"] in ENCODINGS else None
    delimiter = {v: d for d, v in DELIMITER_VALUES.items()}.get(values["delimiter"])
    try:
        saved = _mapping_file(request.files.get("mapping"))
    except ValidationError as exc:
        return _start_page({"mapping": str(exc)}, values, 422)
    if saved is not None:  # what the person chose here wins over the mapping file
        chosen = saved.get("encoding")
        encoding = encoding or ("utf-8-sig" if chosen and chosen.lower() in ("utf-8", "utf8") else chosen)
        delimiter = delimiter or saved.get("delimiter")
    try:
        shown = preview(data, name, encoding=encoding, delimiter=delimiter)
        options = _layout_options(shown)
        if saved is not None:
            options["mapping"] = _saved_mapping(saved["columns"], shown)
        held = _api().hold_import(data, name=name, fmt=shown.format, options=options)
    except FileRefused as exc:
        field = "encoding" if exc.problem == "encoding" else "file"
        return _start_page({field: refusal(exc)}, values, 422)
    except _MappingMismatch as exc:
        return _start_page({"mapping": str(exc)}, values, 422)
    except ValidationError as exc:
        return _start_page({"file": str(exc)}, values, 422)
    return redirect(url_for("contacts.import_file", held_id=held.id), 303)


class _MappingMismatch(ValidationError):
    """A mapping file that does not fit the file uploaded with it."""


#: the largest mapping file read (one names a few hundred columns at most)
MAX_MAPPING = 64 * 1024


def _mapping_file(upload: Any) -> dict[str, Any] | None:
    """The mapping file uploaded beside the data, read as ``--mapping`` reads it (TOML, or JSON by its name)."""
    import tempfile
    from pathlib import Path

    from crm_contacts.mapping import load_mapping_file

    if upload is None or not upload.filename:
        return None
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
    raw = upload.read(MAX_MAPPING + 1)
    if len(raw) > MAX_MAPPING:
        raise ValidationError(_("%(name)s is larger than %(limit)s: it is not a mapping file.", name=name,
                                limit=size(MAX_MAPPING)))  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("mapping.json" if name.lower().endswith(".json") else "mapping.toml")
        path.write_bytes(raw)
        try:
            return load_mapping_file(path)
        except ValidationError as exc:  # the reader names the file by its path: the person knows it by its name
            raise ValidationError(str(exc).replace(str(path), name)) from None


def _saved_mapping(columns: dict[str, str], shown: FilePreview) -> dict[str, str]:
    """A mapping file's columns applied to the file: the columns it does not name are kept as custom fields,
    as ``crm contacts import --mapping`` keeps them."""
    if shown.format != "csv":
        raise _MappingMismatch(_("A mapping file is for CSV files; %(name)s is a vCard file.", name=shown.name))
    missing = [c for c in columns if c not in shown.header]
    if missing:
        raise _MappingMismatch(
            _(
                "The mapping file names columns that %(name)s does not have: %(missing)s. Its columns are: "
                "%(columns)s.",
                name=shown.name,
                missing=", ".join(missing),
                columns=", ".join(shown.header),
            )
        )
    return {h: target_text(parse_target(columns[h])) if h in columns else f"custom.{h}" for h in shown.header}


def _layout_options(shown: FilePreview) -> dict[str, Any]:
    """The options of a file just read: its encoding and delimiter, and (CSV) every column's detected target."""
    options: dict[str, Any] = {"encoding": shown.encoding}
    if shown.format == "csv":
        options["delimiter"] = shown.delimiter
        options["mapping"] = dict(shown.targets)
    return options


# -- step 2: the layout, the mapping and the options -------------------------------


def _held(held_id: int) -> Any:
    g.crm.authz.require("contacts.import")
    return _api().held_import(held_id)  # another user's is NotFoundError: 404


def _target_choices(column: str, current: str) -> list[tuple[str, str]]:
    choices = [(value, _(label)) for value, label in TARGETS]
    custom = f"custom.{column}"
    choices.insert(1, (custom, _("Keep as the custom field “%(name)s”", name=column)))
    if current not in {value for value, _label in choices}:
        label = _("Custom field “%(name)s”", name=current[7:]) if current.startswith("custom.") else current
        choices.insert(1, (current, label))
    return choices


def _file_page(held: Any, *, errors: dict[str, str] | None = None, problem: str | None = None,
               options: dict[str, Any] | None = None, status: int = 200) -> Any:  # fmt: skip
    options = held.options if options is None else options
    delimiter = options.get("delimiter")
    layout_problem = None
    try:
        shown = preview(held.data, held.file_name, encoding=options.get("encoding"), delimiter=delimiter)
    except FileRefused as exc:  # the encoding or delimiter chosen since does not read the file
        layout_problem, shown = refusal(exc), None
    mapping = options.get("mapping", {})
    columns = []
    if shown is not None and shown.format == "csv":
        for index, column in enumerate(shown.header):
            target = mapping.get(column, shown.targets.get(column, "-"))
            columns.append(
                {
                    "index": index,
                    "name": column,
                    "samples": [row[index] for row in shown.sample if index < len(row) and row[index].strip()][:3],
                    "target": target,
                    "choices": _target_choices(column, target),
                    "error": (errors or {}).get(f"map-{index}"),
                }
            )
    return (
        flask.render_template(
            "contacts/import_file.html",
            held=held,
            shown=shown,
            layout_problem=layout_problem,
            layout_label=_(LAYOUT_LABELS.get(shown.layout, shown.layout)) if shown else "",
            encoding_label=_(ENCODING_LABELS.get(options.get("encoding", ""), options.get("encoding", ""))),
            delimiter_label=_(DELIMITER_LABELS.get(delimiter, delimiter)) if delimiter else "",
            encodings=_encodings()[1:],
            delimiters=_delimiters()[1:],
            delimiter_value=DELIMITER_VALUES.get(delimiter or "", ""),
            columns=columns,
            cards=[{"name": row[0], "email": row[1]} for row in shown.sample]
            if shown and shown.format == "vcard"
            else [],
            options=options,
            match_choices=[(k, _(MATCH_LABELS[k])) for k in MATCH_KEYS],
            match_on=options.get("match_on", list(DEFAULT_MATCH_KEYS)),
            conflicts=[("skip", _("Leave the contact unchanged")), ("update", _("Update it anyway"))],
            errors=errors or {},
            problem=problem,
        ),
        status,
    )


def file_page(held_id: int) -> Any:
    """The held file: its layout (changeable), its rows as a sample, the mapping and the options."""
    return _file_page(_held(held_id))


def change_layout(held_id: int) -> Any:
    """Read the file again in another encoding or with another delimiter (the mapping is detected again)."""
    held = _held(held_id)
    encoding = request.form.get("encoding", "")
    delimiter = {v: d for d, v in DELIMITER_VALUES.items()}.get(request.form.get("delimiter", ""))
    errors = {}
    if encoding not in ENCODINGS:
        errors["encoding"] = _("Choose one of the encodings offered.")
    if held.format == "csv" and delimiter is None:
        errors["delimiter"] = _("Choose one of the delimiters offered.")
    if errors:
        return _file_page(held, errors=errors, status=422)
    try:
        shown = preview(held.data, held.file_name, encoding=encoding, delimiter=delimiter)
    except FileRefused as exc:
        return _file_page(held, errors={"encoding": refusal(exc)}, status=422)
    kept = {k: v for k, v in held.options.items() if k not in ("encoding", "delimiter", "mapping")}
    _api().change_held_import(held.id, {**kept, **_layout_options(shown)})
    flask.flash(_("The file was read again; check the columns and their mapping."), "success")
    return redirect(url_for("contacts.import_file", held_id=held.id), 303)


def _posted_options(held: Any, shown: FilePreview) -> tuple[dict[str, Any], dict[str, str], str | None]:
    """The options the form sends, and the errors beside its fields (or at its top)."""
    options = {k: v for k, v in held.options.items() if k in ("encoding", "delimiter")}
    errors: dict[str, str] = {}
    problem = None
    match_on = [k for k in request.form.getlist("match_on") if k in MATCH_KEYS]
    if not match_on:
        errors["match_on"] = _("Choose at least one way to find a contact already in the CRM.")
    options["match_on"] = match_on or list(DEFAULT_MATCH_KEYS)
    conflict = request.form.get("on_conflict", "skip")
    options["on_conflict"] = conflict if conflict in ("skip", "update") else "skip"
    list_name = request.form.get("list_name", "").strip()
    if list_name:
        options["list_name"] = list_name[:200]
    if shown.format != "csv":
        return options, errors, problem
    mapping: dict[str, str] = {}
    for index, column in enumerate(shown.header):
        chosen = request.form.get(f"map-{index}", "-").strip() or "-"
        try:
            target = parse_target(chosen)
        except ValidationError as exc:
            errors[f"map-{index}"] = str(exc)
            continue
        mapping[column] = target_text(target)
    options["mapping"] = mapping
    if len(mapping) == len(shown.header):
        names = list(shown.header)
        targets = [parse_target(mapping[n]) for n in names]
        where = {n: i for i, n in enumerate(names)}
        for first, later in duplicate_targets(names, targets):
            errors[f"map-{where[later]}"] = _(
                "Column “%(first)s” goes to this field already: choose another for this column, or ignore one of them.",
                first=first,
            )
        if not any(targets):
            problem = _("Every column is ignored: choose where at least one of them goes.")
        elif not errors:
            try:
                detect(names, mapping)
            except ValidationError as exc:
                problem = str(exc)
    return options, errors, problem


def save_file(held_id: int) -> Any:
    """Save the mapping and options; then (``action``) download them as a mapping file, or try or run the import."""
    held = _held(held_id)
    action = request.form.get("action", "save")
    try:
        shown = preview(
            held.data, held.file_name, encoding=held.options.get("encoding"), delimiter=held.options.get("delimiter")
        )
    except FileRefused as exc:
        return _file_page(held, problem=refusal(exc), status=422)
    options, errors, problem = _posted_options(held, shown)
    if errors or problem:
        return _file_page(held, errors=errors, problem=problem, options=options, status=422)
    try:
        held = _api().change_held_import(held.id, options)
    except ValidationError as exc:
        return _file_page(held, problem=str(exc), options=options, status=422)
    if action == "download" and shown.format == "csv":
        return _mapping_download(held)
    if action in ("dry_run", "import"):
        return _run(held, dry_run=action == "dry_run")
    flask.flash(_("Saved."), "success")
    return redirect(url_for("contacts.import_file", held_id=held.id), 303)


def _mapping_download(held: Any) -> Any:
    text = mapping_file_text(
        held.options.get("mapping", {}), delimiter=held.options.get("delimiter"), encoding=held.options.get("encoding")
    )
    stem = held.file_name.rsplit(".", 1)[0] or "contacts"
    answer = flask.Response(text, mimetype="application/toml; charset=utf-8")
    answer.headers["Content-Disposition"] = f'attachment; filename="{_safe(stem)}-mapping.toml"'
    return answer


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "contacts"


def _run(held: Any, *, dry_run: bool) -> Any:
    record = _api().submit_held_import(held.id, dry_run=dry_run)
    values = {"import_id": record.id}
    if dry_run:
        values["file"] = held.id
    return redirect(url_for("contacts.import_run", **values), 303)


def import_now(held_id: int) -> Any:
    """Import a held file with the options saved (the dry run's page offers it)."""
    return _run(_held(held_id), dry_run=False)


def discard(held_id: int) -> Any:
    """Delete a held file and go back to the upload form."""
    held = _held(held_id)
    _api().release_held_import(held.id)
    flask.flash(_("%(name)s was discarded; nothing was imported.", name=held.file_name), "success")
    return redirect(url_for("contacts.import_start"), 303)


# -- step 3: the run, its progress and its report ---------------------------------------


def _run_values(import_id: int) -> dict[str, Any]:
    g.crm.authz.require("contacts.import")
    record = _api().import_run(import_id)  # another user's is NotFoundError: 404
    held = None
    file_id = request.args.get("file", "")
    if record.dry_run and file_id.isdigit():
        try:
            held = _api().held_import(int(file_id))
        except NotFoundError:  # imported or discarded since: nothing to offer
            held = None
    total = max(record.rows_total, 1)
    return {
        "record": record,
        "held": held,
        "finished": record.status in ("done", "failed"),
        "percent": min(100, round(100 * record.rows_done / total)),
        "problems": record.problems[:SHOWN_PROBLEMS],
        "more_problems": max(0, len(record.problems) - SHOWN_PROBLEMS),
        "status_label": _run_status(record),
        "poll": url_for("contacts.import_progress", import_id=record.id),
        "refresh": request.full_path.rstrip("?"),
    }


def _run_status(record: Any) -> str:
    labels = {
        "queued": N_("Waiting for the worker"),
        "running": N_("Running"),
        "done": N_("Finished"),
        "failed": N_("Stopped"),
    }
    return _(labels.get(record.status, record.status))


def run_page(import_id: int) -> Any:
    """A dry run or an import: its progress while it runs, its counts and problem rows when it is done."""
    return flask.render_template("contacts/import_run.html", **_run_values(import_id))


def run_progress(import_id: int) -> Any:
    """The progress bar alone (what htmx polls); once the run is done, htmx reloads the page for the report."""
    values = _run_values(import_id)
    answer = flask.make_response(flask.render_template("contacts/_import_progress.html", **values))
    if values["finished"] and request.headers.get("HX-Request"):
        answer.headers["HX-Refresh"] = "true"
    return answer


def run_problems(import_id: int) -> Any:
    """Every row with an error, a warning or a conflict, with its own columns, as CSV to fix and import again."""
    g.crm.authz.require("contacts.import")
    try:
        name, data = _api().import_problems(import_id)
    except ValidationError as exc:
        flask.flash(str(exc), "error")
        return redirect(url_for("contacts.import_run", import_id=import_id), 303)
    answer = flask.Response(data, mimetype="text/csv; charset=utf-8")
    answer.headers["Content-Disposition"] = f'attachment; filename="{_safe(name)}"'
    return answer


def too_large(exc: Exception) -> Any:
    """A body over the page's limit (:data:`MAX_BODY` on the upload page): the limit and what to do."""
    if request.endpoint != "contacts.import_start":  # another contacts form over the desk's own limit
        return flask.render_template(
            "desk/error.html", code=413, message=_("What you sent is too large."), detail=None
        ), 413
    message = _(
        "The file is larger than %(limit)s, the most the import wizard takes. Split it into smaller files, or "
        "import it with the command crm contacts import, which has no size limit.",
        limit=size(MAX_UPLOAD),
    )
    # refused before the session is read (the desk checks the form's CSRF token first): the desk's error page
    return flask.render_template("desk/error.html", code=413, message=message, detail=None), 413


def register(page: flask.Blueprint) -> None:
    """Add the wizard's pages to the contacts blueprint."""
    start.desk_max_body = MAX_BODY  # type: ignore[attr-defined]
    page.add_url_rule("/import/", "import_start", start, methods=["GET", "POST"])
    page.add_url_rule("/import/files/<int:held_id>", "import_file", file_page)
    page.add_url_rule("/import/files/<int:held_id>", "import_save", save_file, methods=["POST"])
    page.add_url_rule("/import/files/<int:held_id>/layout", "import_layout", change_layout, methods=["POST"])
    page.add_url_rule("/import/files/<int:held_id>/import", "import_now", import_now, methods=["POST"])
    page.add_url_rule("/import/files/<int:held_id>/discard", "import_discard", discard, methods=["POST"])
    page.add_url_rule("/import/runs/<int:import_id>", "import_run", run_page)
    page.add_url_rule("/import/runs/<int:import_id>/progress", "import_progress", run_progress)
    page.add_url_rule("/import/runs/<int:import_id>/problems", "import_problems", run_problems)
    page.register_error_handler(413, too_large)

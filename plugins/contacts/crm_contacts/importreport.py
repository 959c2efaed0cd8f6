"""What an import did: counts, every problem row, and the error a stopped import raises.

Nothing is capped: :class:`ImportReport` keeps every bad row (``errors``),
every row imported with a warning (``warnings``) and every row left
unchanged because it conflicts with the contact it matched
(``conflicts``). :class:`ProblemFile` writes the same rows, with their
original cells, as a CSV the user can fix and import again
(``--errors FILE``).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import IO, Any

import attrs

from crm_core.errors import CRMError

__all__ = ["PROBLEM_COLUMNS", "ImportReport", "ImportStopped", "ProblemFile", "RowError"]

#: the columns a problem file puts before the row's own; an import ignores them
PROBLEM_COLUMNS = ("import.line", "import.field", "import.problem")


@attrs.frozen
class RowError:
    """A row with a problem: where, which field, why."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@attrs.define
class ImportReport:
    source: str = ""
    layout: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    organizations_created: int = 0
    failed: int = 0
    #: every row that could not be used
    errors: list[RowError] = attrs.field(factory=list)
    #: every row imported with a warning (a phone kept unverified…)
    warnings: list[RowError] = attrs.field(factory=list)
    #: every row left unchanged because it conflicts with the contact it matched
    conflicts: list[RowError] = attrs.field(factory=list)
    ignored_columns: tuple[str, ...] = ()
    #: things the user should know about the file as a whole
    notes: list[str] = attrs.field(factory=list)
    dry_run: bool = False
    aborted: bool = False
    #: the problem file written (``errors_to``), if any
    problem_file: str | None = None
    #: seconds spent per phase: read, validate, match, prepare (rows for the
    #: tables), write (the INSERT/UPDATE statements), events (building and
    #: writing them to the outbox), commit (each batch's, outbox included)
    timings: dict[str, float] = attrs.field(
        factory=lambda: {
            "read": 0.0,
            "validate": 0.0,
            "match": 0.0,
            "prepare": 0.0,
            "write": 0.0,
            "events": 0.0,
            "commit": 0.0,
        }
    )
    contact_ids: list[int] = attrs.field(factory=list, repr=False)

    def add_error(self, error: RowError) -> None:
        self.failed += 1
        self.errors.append(error)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        text = (
            f"{self.rows} row(s) read from {self.source} ({self.layout} layout): {self.created} contact(s) {verb} created, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.failed} row(s) with errors"
        )
        if self.conflicts:
            text += f", {len(self.conflicts)} conflict(s) left unchanged"
        if self.warnings:
            text += f", {len(self.warnings)} row(s) with warnings"
        if self.organizations_created:
            text += f"; {self.organizations_created} organization(s) {verb} created"
        if self.aborted:
            text += "; --all-or-nothing: nothing was imported"
        if self.problem_file:
            text += f"; the rows with problems are in {self.problem_file}"
        return text


class ImportStopped(CRMError):
    """An import that stopped before the end of its file; ``report`` says what was written.

    The message names the cause, how many rows were already committed and how
    to finish the job.
    """

    def __init__(self, message: str, report: ImportReport, exit_code: int = 1) -> None:
        super().__init__(message)
        self.report = report
        self.exit_code = exit_code


class ProblemFile:
    """``--errors FILE``: each problem row's line, field and reason, then its original cells.

    The columns after the first three are the imported file's own, so the
    file can be fixed in a spreadsheet and imported again (an import ignores
    the ``import.*`` columns).
    """

    def __init__(self, out: IO[str], header: Sequence[str]) -> None:
        self._writer = csv.writer(out)
        self._writer.writerow([*PROBLEM_COLUMNS, *header])
        self.rows = 0

    def write(self, line: int, problems: Sequence[tuple[str, str]], cells: Sequence[Any]) -> None:
        fields = "; ".join(dict.fromkeys(f for f, _ in problems))
        reasons = "; ".join(f"{f}: {r}" if len(problems) > 1 else r for f, r in problems)
        self._writer.writerow([line, fields, reasons, *cells])
        self.rows += 1

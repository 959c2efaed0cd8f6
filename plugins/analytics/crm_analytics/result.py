"""What every report returns: :class:`Report`, rows with named columns, and how to chart them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["ChartSpec", "Note", "Report"]


def _english(value: Any) -> str:
    """A value of a note as the English text says it: a date as ISO, a list with commas, a number as written."""
    if isinstance(value, (list, tuple)):
        return ", ".join(_english(v) for v in value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class Note(str):
    """A line a report says to its reader (a note under the table, why there is nothing), in English and in any other language.

    It *is* the English text, a ``str``, for the command line, the HTTP API and
    a schedule's mail. ``template`` is that text with ``%(name)s``
    placeholders (marked for translation with ``N_``), and ``values`` what
    fills them: texts, numbers, dates, other notes, lists of them. A page in
    another language translates the template through its catalog and fills
    it with the values said its way (:meth:`say`): dates and numbers in its
    locale, notes translated in turn.
    """

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, **values: Any) -> Note:
        text = template % {k: _english(v) for k, v in values.items()} if values else template
        note = super().__new__(cls, text)
        note.template = template
        note.values = values
        return note

    def say(self, gettext: Any, value: Any) -> str:
        """The note in another language: ``gettext`` translates a template, ``value`` says a date or a number."""

        def said(item: Any) -> str:
            if isinstance(item, Note):
                return item.say(gettext, value)
            if isinstance(item, (list, tuple)):
                return ", ".join(said(v) for v in item)
            if isinstance(item, (dt.date, int, float)) and not isinstance(item, bool):
                return str(value(item))
            return str(item)

        template = gettext(self.template)
        return template % {k: said(v) for k, v in self.values.items()} if self.values else template


@attrs.frozen
class ChartSpec:
    """How a report is drawn by default.

    ``x`` is the column along the horizontal axis (usually ``period``);
    ``y`` the measures drawn; the other ``group`` columns split the bars or
    lines into series (``region``, ``currency``…). ``kind`` is ``bar``,
    ``line`` or ``stacked``.
    """

    x: str
    y: tuple[str, ...]
    group: tuple[str, ...] = ()
    kind: str = "bar"


@attrs.frozen
class Report:
    """The result of a report: rows of named values, and what the reader needs to know.

    ``rows`` are dicts keyed by ``columns``. ``empty_message`` says why
    there is nothing when ``rows`` is empty (an empty database, a range with
    no data). ``periods`` lists every period of the range in time order,
    those without rows included, so a chart shows an empty period as a gap
    instead of skipping it. ``notes`` are lines printed under the table (a clipped
    period, the method of a forecast). ``extra`` holds named secondary
    tables (the forecast's history).
    """

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    start: dt.date | None = None
    end: dt.date | None = None
    period: str | None = None
    #: plain text, or :class:`Note` (text that a page in another language can translate)
    notes: tuple[str, ...] = ()
    #: the labels of every period of the range in time order, with or without rows (a chart's time axis)
    periods: tuple[str, ...] = ()
    empty_message: str = "no data"
    chart: ChartSpec | None = None
    extra: dict[str, tuple[tuple[str, ...], tuple[dict[str, Any], ...]]] = attrs.field(factory=dict)

    @property
    def empty(self) -> bool:
        return not self.rows

    def column(self, name: str) -> list[Any]:
        return [row.get(name) for row in self.rows]

    def render(self, fmt: str = "table") -> str:
        """The rows as ``table``, ``csv`` or ``json`` (through ``crm_core.output``)."""
        from crm_core.output import render

        return render(list(self.rows), list(self.columns), fmt)

    def to_csv(self) -> bytes:
        return (self.render("csv") + "\n").encode("utf-8")

    def describe_range(self) -> str:
        if self.start is None or self.end is None:
            return ""
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def make_rows(columns: Sequence[str], values: Sequence[Sequence[Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(dict(zip(columns, v)) for v in values)

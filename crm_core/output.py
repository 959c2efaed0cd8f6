"""The one place that formats data for the CLI: ``table``, ``csv`` or ``json``, and the lines beside it.

CSV cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) are prefixed with ``'``, so
an export opened in a spreadsheet shows the text instead of running it.

Data goes to stdout; what is said to the person running the command (a
progress bar, "50 of 3000", a summary, a warning) goes to stderr through
:func:`note` and :func:`progress`, which end every line and flush stdout
first: stdout is block-buffered when it is not a terminal, so a stderr line
written while part of a table still sat in the buffer would land inside a
row when both streams go to one file (``crm … > out 2>&1``). The ``crm``
command does the same for any write to stderr (``crm_core.cli.main``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO, TypeVar

__all__ = ["FORMATS", "csv_safe", "format_option", "note", "progress", "render", "write_csv"]

FORMATS = ("table", "csv", "json")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a click command function, before or after its decorators
_F = TypeVar("_F", bound=Callable[..., Any])


def format_option(default: str = "table") -> Callable[[_F], _F]:
    """The ``--format table|csv|json`` option every listing command offers."""
    import click

    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="Output format.",
    )


def csv_safe(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell (strings only; numbers pass)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_plain(v)) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def write_csv(out: TextIO, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> int:
    """Stream ``rows`` as CSV with a header; return how many rows."""
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([csv_safe(_plain(row.get(c))) for c in columns])
        count += 1
    return count


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, fmt: str = "table") -> str:
    """``rows`` as text in ``fmt``; ``columns`` defaults to the first row's keys."""
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if fmt == "json":
        return json.dumps(
            [{c: row.get(c) for c in columns} for row in rows], indent=2, ensure_ascii=False, default=_json_default
        )
    if fmt == "csv":
        buffer = io.StringIO()
        write_csv(buffer, rows, columns)
        return buffer.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not rows:
        return "(none)"
    cells = [[("" if row.get(c) is None else str(_plain(row.get(c)))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _json_default(value: Any) -> Any:
    plain = _plain(value)
    if plain is value:
        return str(value)
    return plain


# -- lines for the person at the terminal (stderr) ------------------------------------


def note(message: str) -> None:
    """One line on stderr for the person running the command: a summary, a hint, a warning.

    The rows printed so far are flushed first, so the line follows them, and
    the line is ended (a trailing newline in ``message`` is not doubled).
    """
    import click

    sys.stdout.flush()
    click.echo(message.rstrip("\r\n"), err=True)


@contextlib.contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """The progress of a long command on stderr; yields ``advance(done)``, given the total done so far.

    On a terminal, click's bar redrawn in place; elsewhere (a log file, a
    pipe) the label once, as a line. The line is ended when the block ends,
    also when it ends by an error, so the next line (a summary, ``Error: …``)
    starts on its own.
    """
    import click

    sys.stdout.flush()
    done = 0
    with click.progressbar(length=max(int(length), 0), label=label, file=sys.stderr, show_eta=True) as bar:

        def advance(total: int) -> None:
            nonlocal done
            if total > done:
                bar.update(total - done)
                done = total

        yield advance

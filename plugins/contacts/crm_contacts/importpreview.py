"""What a file to import holds, before it is imported: its format, encoding, delimiter, header, rows and mapping.

The import wizard of the desk shows this to the person who uploaded the
file, so that they can correct what was guessed (the encoding, the
delimiter, the column mapping) before the dry run. A file that cannot be
imported at all raises :class:`FileRefused`, whose ``problem`` names what
is wrong (``empty``, ``binary``, ``encoding``, ``blank_header``,
``no_header``, ``malformed``, ``no_rows``, ``not_vcard``, ``vcard``) and
whose ``params`` say where: the desk turns them into a message in the
user's language; the exception's own text is English, for logs.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from typing import Any

import attrs

from crm_contacts.csvread import DELIMITERS, FIELD_LIMIT, binary_kind
from crm_contacts.importreport import PROBLEM_COLUMNS
from crm_contacts.mapping import detect, target_text
from crm_core.errors import ValidationError

__all__ = ["ENCODINGS", "FilePreview", "FileRefused", "preview"]

#: the encodings a person can choose (Python's names), the first the default
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1", "utf-16")
#: rows shown as a sample
SAMPLE = 5


class FileRefused(ValidationError):
    """A file the import cannot read at all; ``problem`` says why and ``params`` where."""

    def __init__(self, problem: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.problem = problem
        self.params = params


@attrs.frozen
class FilePreview:
    """A file as the import will read it."""

    name: str
    #: ``csv`` or ``vcard``
    format: str
    size: int
    #: the encoding it is read in (one of :data:`ENCODINGS`, or the one chosen)
    encoding: str
    #: whether the file is not UTF-8 text (so its encoding is a guess, or the person's choice, to check)
    not_utf8: bool
    #: the CSV delimiter (``None`` for vCard)
    delimiter: str | None
    #: the columns of a CSV file (the ``import.*`` columns of a problem file left out)
    header: tuple[str, ...]
    #: the rows (CSV) or cards (vCard) after the header
    rows: int
    #: the first rows' cells (CSV), or the first cards' name and e-mail (vCard)
    sample: tuple[tuple[str, ...], ...]
    #: the layout recognised: ``crm``, ``google``, ``outlook``, or ``none`` when no column's name is known
    layout: str
    #: column -> the target the import would send it to (``-``: ignored)
    targets: dict[str, str]
    #: cards that cannot be read (vCard): each is an error row of the import
    broken: int = 0


def _format(data: bytes, name: str) -> str:
    if name.lower().endswith((".vcf", ".vcard")):
        return "vcard"
    start = data[:200].lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return "vcard" if start.startswith(b"BEGIN:VCARD") else "csv"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """``(text, encoding)``: ``encoding`` if given, else UTF-8 (with or without BOM), UTF-16 by its BOM,
    else Windows-1252, else Latin-1 (which reads any byte)."""
    if encoding is None:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16"), "utf-16"
        for candidate in ENCODINGS[:3]:
            try:
                return data.decode(candidate), candidate
            except UnicodeDecodeError:
                continue
    chosen = encoding or "latin-1"
    try:
        codecs.lookup(chosen)
    except LookupError:
        raise ValidationError(
            f"encoding {chosen!r} is not an encoding Python knows; try utf-8, latin-1 or cp1252"
        ) from None
    try:
        return data.decode(chosen), chosen
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        end = data.find(b"\n", exc.start)
        text = data[start : end if end >= 0 else len(data)].rstrip(b"\r")[:80].decode("cp1252", "replace")
        raise FileRefused(
            "encoding",
            f"{name}: line {line} cannot be read as {chosen}; choose the file's encoding (cp1252 reads it as {text!r})",
            name=name,
            line=line,
            encoding=chosen,
            shown=text,
        ) from None


def preview(data: bytes, name: str, *, encoding: str | None = None, delimiter: str | None = None) -> FilePreview:
    """What ``data`` (a file called ``name``) holds; raises :class:`FileRefused` for a file no import can read.

    ``encoding`` and ``delimiter`` are the person's choice; without them they are guessed.
    """
    if not data.strip():
        raise FileRefused("empty", f"{name} is empty", name=name)
    kind = binary_kind(data[:8192])
    if kind is not None:
        raise FileRefused("binary", f"{name} is not a text file ({kind})", name=name, kind=kind)
    fmt = _format(data, name)
    text, used = _decode(data, name, encoding)
    guessed = not _is_utf8(data)
    if fmt == "vcard":
        return _vcard(data, text, name, used, guessed)
    return _csv(text, name, len(data), used, guessed, delimiter)


def _csv(text: str, name: str, size: int, encoding: str, guessed: bool, delimiter: str | None) -> FilePreview:
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise FileRefused("blank_header", f"{name}: the first line is blank; it must name the columns", name=name)
    if delimiter is None:
        counts = {d: first.count(d) for d in DELIMITERS}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    sample: list[tuple[str, ...]] = []
    rows = 0
    last = 1
    try:
        header = [h.strip() for h in next(reader)]
        for cells in reader:
            last = reader.line_num
            if any(c.strip() for c in cells):
                rows += 1
                if len(sample) < SAMPLE:
                    sample.append(tuple(cells))
    except csv.Error as exc:
        raise FileRefused(
            "malformed", f"{name}: line {last + 1} is not valid CSV ({exc})", name=name, line=last + 1, detail=str(exc)
        ) from None
    looks_like_data = [h for h in header if "@" in h and " " not in h.strip()]
    if looks_like_data:
        raise FileRefused(
            "no_header",
            f"{name}: the first line holds {looks_like_data[0]!r}, a value, not the columns' names",
            name=name,
            value=looks_like_data[0],
        )
    if not rows:
        raise FileRefused("no_rows", f"{name}: the file has a header and no rows", name=name)
    kept = [i for i, h in enumerate(header) if h not in PROBLEM_COLUMNS]
    names = [header[i] for i in kept]
    try:
        found = detect(names)
        layout = found.layout
        targets = {n: target_text(t) for n, t in zip(names, found.targets)}
    except ValidationError:  # no column's name is one the import knows: the person maps them
        layout = "none"
        targets = {n: "-" for n in names}
    return FilePreview(
        name=name,
        format="csv",
        size=size,
        encoding=encoding,
        not_utf8=guessed,
        delimiter=delimiter,
        header=tuple(names),
        rows=rows,
        sample=tuple(tuple(row[i] if i < len(row) else "" for i in kept) for row in sample),
        layout=layout,
        targets=targets,
    )


def _vcard(data: bytes, text: str, name: str, encoding: str, guessed: bool) -> FilePreview:
    from crm_contacts.vcard import read_file

    if "BEGIN:VCARD" not in text.upper():
        raise FileRefused("not_vcard", f"{name}: no BEGIN:VCARD … END:VCARD card found", name=name)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "cards.vcf")
        with open(path, "wb") as out:
            out.write(data)
        try:
            cards = read_file(path, encoding)
            rows = list(cards.rows())
        except ValidationError as exc:
            # the reader names the file by its path: the person knows it by its name
            detail = str(exc).replace(path, name)
            raise FileRefused("vcard", detail, name=name, detail=detail) from None
    index = {c: i for i, c in enumerate(cards.columns)}
    good = [cells for _, cells in rows if cells[:1] != ["\x00"]]
    sample = tuple(
        (cells[index["display_name"]] or " ".join(filter(None, (cells[index["first_name"]], cells[index["last_name"]]))),
         cells[index["email_1"]])
        for cells in good[:SAMPLE]
    )  # fmt: skip
    return FilePreview(
        name=name,
        format="vcard",
        size=len(data),
        encoding=encoding,
        not_utf8=guessed,
        delimiter=None,
        header=(),
        rows=len(rows),
        sample=sample,
        layout="vcard",
        targets={},
        broken=len(rows) - len(good),
    )

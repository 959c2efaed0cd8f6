"""Reading CSV files for import: encoding, delimiter, header, rows with line numbers.

The file is streamed (constant memory whatever its size). Before any row is
used the whole file is checked: that it is text and not a compressed or
binary file (:func:`check_text_file`), that it decodes in the chosen
encoding, and that every record parses (quoting) and there is at least one
row after the header (:meth:`CSVSource.check`), so a bad line at the end
cannot leave half an import behind.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from crm_core.errors import ValidationError

__all__ = ["CSVSource", "DELIMITERS", "binary_kind", "check_text_file", "open_csv", "unquote_cell"]

DELIMITERS = (",", ";", "\t", "|")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# csv's own limit is 128 KiB per field; a contact field is far smaller, so a
# huge "field" means a broken quote that swallowed the rest of the file
FIELD_LIMIT = 100_000


def unquote_cell(value: str) -> str:
    """Undo the ``'`` our CSV export puts before a formula-like cell (and before a cell that starts with ``'=``…)."""
    if (
        len(value) > 1
        and value[0] == "'"
        and (value[1] in _FORMULA or (value[1] == "'" and value[2:3] and value[2] in _FORMULA))
    ):
        return value[1:]
    return value


class _Counting(io.RawIOBase):
    """A raw reader that counts the bytes read, for the progress bar."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


#: leading bytes of files that are not text: the kind, what it is and what to do with it
_MAGIC = (
    (b"\x1f\x8b", "gzip", "a gzip-compressed file", "decompress it first (gunzip)"),
    (
        b"PK\x03\x04",
        "zip",
        "a ZIP archive (an .xlsx or .ods workbook is one too)",
        "unzip it, or save the sheet as CSV from the spreadsheet",
    ),
    (b"BZh", "bzip2", "a bzip2-compressed file", "decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "xz", "an xz-compressed file", "decompress it first (unxz)"),
    (b"(\xb5/\xfd", "zstd", "a zstd-compressed file", "decompress it first (unzstd)"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a 7-Zip archive", "extract it first"),
    (b"Rar!", "rar", "a RAR archive", "extract it first"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "xls",
        "an Excel 97-2003 workbook (.xls)",
        "save the sheet as CSV from the spreadsheet",
    ),
    (b"%PDF", "pdf", "a PDF document", "export the contacts as CSV or vCard instead"),
    (b"SQLite format 3\x00", "sqlite", "an SQLite database", "export the contacts as CSV or vCard instead"),
)
_UTF16 = (b"\xff\xfe", b"\xfe\xff")


def binary_kind(head: bytes) -> str | None:
    """The kind of compressed, archived or binary file ``head`` (a file's first bytes) starts, or ``None``.

    One of ``gzip``, ``zip``, ``bzip2``, ``xz``, ``zstd``, ``7z``, ``rar``,
    ``xls``, ``pdf``, ``sqlite``; ``binary`` for other bytes no text has (NUL),
    unless the file starts with a UTF-16 byte-order mark.
    """
    for magic, kind, _what, _fix in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" in head and not head.startswith(_UTF16):
        return "binary"
    return None


def check_text_file(path: Path, encoding: str) -> None:
    """Raise :class:`ValidationError` when ``path`` is a compressed, archived or binary file, not text."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    for magic, _kind, what, fix in _MAGIC:
        if head.startswith(magic):
            raise ValidationError(f"{path.name} is {what}, not a CSV or vCard text file; {fix}; nothing was imported")
    wide = encoding.lower().replace("-", "").replace("_", "").startswith(("utf16", "utf32"))
    if head.startswith(_UTF16) and not wide:
        raise ValidationError(
            f"{path.name} is UTF-16 text (it starts with a UTF-16 byte-order mark); pass --encoding utf-16; nothing was imported"
        )
    if b"\x00" in head and not wide:
        raise ValidationError(
            f"{path.name} is a binary file, not a CSV or vCard text file (it holds NUL bytes); "
            "if it is UTF-16 text, pass --encoding utf-16; nothing was imported"
        )


def check_encoding(path: Path, encoding: str) -> None:
    """Raise :class:`ValidationError` naming the line of the first byte that does not decode."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise ValidationError(
            f"--encoding {encoding!r} is not an encoding Python knows; try utf-8, latin-1 or cp1252"
        ) from None
    line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 20)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                bad = block[exc.start : exc.start + 1].hex()
                start = block.rfind(b"\n", 0, exc.start) + 1
                end = block.find(b"\n", exc.start)
                text = block[start : end if end >= 0 else len(block)].rstrip(b"\r")[:80]
                hint = f"if {text.decode('cp1252', 'replace')!r} is how it should read, pass --encoding cp1252"
                raise ValidationError(
                    f"{path.name}: line {line} cannot be read as {encoding} (byte 0x{bad}); nothing was imported; "
                    f"give the file's encoding with --encoding (e.g. latin-1 or cp1252): {hint}"
                ) from None
            if not block:
                return
            line += block.count(b"\n")


class CSVSource:
    """An open CSV file: ``header``, ``delimiter`` and :meth:`rows`."""

    def __init__(
        self, text: IO[str], name: str, delimiter: str | None, size: int | None, counter: _Counting | None
    ) -> None:
        self.name = name
        self.size = size
        self._counter = counter
        self._text = text
        first = text.readline()
        if not first.strip():
            raise ValidationError(
                f"{name}: the file is empty or its first line is blank; the first line must be the header"
            )
        self.delimiter = delimiter or self._sniff(first)
        rest = io.StringIO(first)
        header = next(csv.reader(rest, delimiter=self.delimiter))
        self.header = [h.strip().lstrip("\ufeff") for h in header]
        if len(self.header) == 1:
            # one column: probably the wrong delimiter; say so if a likely one is there
            for candidate in (",", ";", "\t", "|", ":"):
                if candidate != self.delimiter and candidate in first:
                    raise ValidationError(
                        f"{name}: the header has a single column; if the file uses {candidate!r} as delimiter, pass --delimiter '{candidate}'"
                    )
        self.bytes_read = 0
        #: data rows, when :meth:`check` has counted them
        self.count: int | None = None

    @staticmethod
    def _sniff(line: str) -> str:
        counts = {d: line.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","

    def check(self, path: Path, encoding: str) -> int:
        """Parse the whole file once, writing nothing: the number of data rows, or the first malformed line.

        Raises :class:`ValidationError` for a record that does not parse
        (a broken quote) and for a file with a header and no rows.
        """
        count = 0
        with open(path, encoding=encoding, newline="") as text:
            reader = csv.reader(text, delimiter=self.delimiter, strict=True)
            last = 1  # the last line of the last record read whole: the failing one starts after it
            try:
                next(reader, None)
                for cells in reader:
                    last = reader.line_num
                    if any(c.strip() for c in cells):
                        count += 1
            except csv.Error as exc:
                raise ValidationError(
                    f"{self.name}: line {last + 1}: the CSV is malformed ({exc}); check the quoting; nothing was imported"
                ) from None
        if not count:
            raise ValidationError(f"{self.name}: the file has a header and no rows; nothing to import")
        return count

    def progress(self) -> int:
        return self._counter.count if self._counter else 0

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line number, cells)`` for each data row; the line is where the record starts."""
        reader = csv.reader(self._text, delimiter=self.delimiter, strict=True)
        line = 1
        try:
            for cells in reader:
                start = line + 1
                line = reader.line_num + 1
                yield start, cells
        except csv.Error as exc:
            raise ValidationError(
                f"{self.name}: line {line + 1}: the CSV is malformed ({exc}); check the quoting"
            ) from None

    def close(self) -> None:
        self._text.close()


def open_csv(
    source: str | os.PathLike[str] | IO[str],
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    name: str | None = None,
) -> CSVSource:
    """Open ``source`` (a path, or a text stream) for import."""
    if delimiter is not None and len(delimiter) != 1:
        raise ValidationError(f"--delimiter {delimiter!r} must be one character (use '\\t' for a tab)")
    csv.field_size_limit(FIELD_LIMIT)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValidationError(f"{path}: no such file")
        if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
            encoding = "utf-8-sig"  # accept a byte-order mark
        check_text_file(path, encoding)
        check_encoding(path, encoding)
        counter = _Counting(open(path, "rb"))
        text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=encoding, newline="")
        opened = CSVSource(text, name or path.name, delimiter, path.stat().st_size, counter)
        try:
            opened.count = opened.check(path, encoding)
        except BaseException:
            opened.close()
            raise
        return opened
    # a stream's name may be missing, None (a spooled temporary file) or a descriptor number
    stream_name = getattr(source, "name", None)
    return CSVSource(
        source, name or (str(stream_name) if isinstance(stream_name, (str, int)) else "the CSV"), delimiter, None, None
    )


ProgressFn = Callable[[int, int], None]

"""Reading CSV files for import: encoding, delimiter, header, rows with line numbers.

The file is streamed (constant memory whatever its size). Before any row is
used the whole file is checked to decode in the chosen encoding, so a bad
byte at the end cannot leave half an import behind.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from crm_core.errors import ValidationError

__all__ = ["CSVSource", "DELIMITERS", "open_csv", "unquote_cell"]

DELIMITERS = (",", ";", "\t", "|")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# csv's own limit is 128 KiB per field; a contact field is far smaller, so a
# huge "field" means a broken quote that swallowed the rest of the file
FIELD_LIMIT = 100_000


def unquote_cell(value: str) -> str:
    """Undo the ``'`` our CSV export puts before a formula-like cell."""
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA:
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


def check_encoding(path: Path, encoding: str) -> None:
    """Raise :class:`ValidationError` naming the line of the first byte that does not decode."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise ValidationError(f"--encoding {encoding!r} is not an encoding Python knows; try utf-8, latin-1 or cp1252") from None
    line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 20)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                line += block[: exc.start].count(b"\n")
                bad = block[exc.start : exc.start + 1].hex()
                raise ValidationError(
                    f"{path.name}: line {line} cannot be read as {encoding} (byte 0x{bad}); "
                    "nothing was imported; give the file's encoding with --encoding (e.g. latin-1 or cp1252)"
                ) from None
            if not block:
                return
            line += block.count(b"\n")


class CSVSource:
    """An open CSV file: ``header``, ``delimiter`` and :meth:`rows`."""

    def __init__(self, text: IO[str], name: str, delimiter: str | None, size: int | None, counter: _Counting | None) -> None:
        self.name = name
        self.size = size
        self._counter = counter
        self._text = text
        first = text.readline()
        if not first.strip():
            raise ValidationError(f"{name}: the file is empty or its first line is blank; the first line must be the header")
        self.delimiter = delimiter or self._sniff(first)
        rest = io.StringIO(first)
        header = next(csv.reader(rest, delimiter=self.delimiter))
        self.header = [h.strip().lstrip("\ufeff") for h in header]
        if len(self.header) == 1:
            # one column: probably the wrong delimiter; say so if a likely one is there
            for candidate in (",", ";", "\t", "|", ":"):
                if candidate != self.delimiter and candidate in first:
                    raise ValidationError(f"{name}: the header has a single column; if the file uses {candidate!r} as delimiter, pass --delimiter '{candidate}'")
        self.bytes_read = 0

    @staticmethod
    def _sniff(line: str) -> str:
        counts = {d: line.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","

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
            raise ValidationError(f"{self.name}: line {reader.line_num + 1}: the CSV is malformed ({exc}); check the quoting") from None

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
        check_encoding(path, encoding)
        counter = _Counting(open(path, "rb"))
        text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=encoding, newline="")
        return CSVSource(text, name or path.name, delimiter, path.stat().st_size, counter)
    return CSVSource(source, name or getattr(source, "name", "the CSV"), delimiter, None, None)


ProgressFn = Callable[[int, int], None]

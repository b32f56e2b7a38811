"""Reading a CSV file (optionally gzipped) and inferring its layout from the first rows.

Column types are BIGINT, DOUBLE PRECISION or TEXT; empty is NULL. db.csv_loader writes what
this reads into a table.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import sqlalchemy as sa

from db.identifiers import InvalidIdentifierError, check_identifier
from inference.number_text import NUMBER

Progress = Callable[[int], object]

SAMPLE_ROWS = 10_000
READ_BYTES = 1 << 20
# PostgreSQL's limit on the columns of one table.
MAX_COLUMNS = 1_600
INFERRED = f" (column types are inferred from the first {SAMPLE_ROWS:,} rows)"

# ASCII digits only, as PostgreSQL reads numbers: a column of "１２" (fullwidth) is text.
_INTEGER = re.compile(r"[+-]?\d{1,18}", re.ASCII)
_FLOAT = re.compile(NUMBER, re.ASCII)
_GZIP_MAGIC = b"\x1f\x8b"


class CsvLoadError(ValueError):
    """The CSV cannot be loaded; `line` is the CSV line at fault when one is known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class CsvLayout:
    """What the header and the sampled rows say about the file."""

    columns: dict[str, type[sa.types.TypeEngine]]
    id_column: str | None
    generate_id: bool


def infer_layout(path: Path, *, id_column: str | None = None) -> CsvLayout:
    """Read the header and the first SAMPLE_ROWS rows and decide the column types."""
    with open_text(path) as text:
        records = read_records(text)
        _, header = next(records, (1, []))
        if not header:
            raise CsvLoadError(f"{path.name} is empty: expected a header row", line=1)
        sample = [row for _, (_, row) in zip(range(SAMPLE_ROWS), records, strict=False)]
    _check_header(header)
    columns = {
        name: _infer_type([row[i] for row in sample if i < len(row)])
        for i, name in enumerate(header)
    }
    if id_column is None:
        return CsvLayout(columns, None, generate_id=False)
    check_identifier(id_column, "column")
    if id_column not in columns:
        return CsvLayout({id_column: sa.BigInteger, **columns}, id_column, generate_id=True)
    if columns[id_column] is not sa.BigInteger:
        raise CsvLoadError(
            f"id column {id_column!r} must hold integers in every row; name another id column "
            "(one the CSV does not have is generated 1..N)"
        )
    return CsvLayout(columns, id_column, generate_id=False)


@contextlib.contextmanager
def open_binary(path: Path, progress: Progress | None = None) -> Iterator[IO[bytes]]:
    """The file's (decompressed) bytes; `progress` gets the bytes read from disk."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        stream: IO[bytes] = raw
        if progress is not None:
            stream = io.BufferedReader(_ProgressReader(raw, progress), buffer_size=READ_BYTES)
        if gzipped:
            with gzip.GzipFile(fileobj=stream, mode="rb") as unzipped:
                yield unzipped
        else:
            yield stream


@contextlib.contextmanager
def open_text(path: Path, progress: Progress | None = None) -> Iterator[IO[str]]:
    """The file as UTF-8 text for the csv module (a leading BOM is dropped)."""
    with open_binary(path, progress) as stream:
        yield io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def read_records(text: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each CSV record; malformed CSV raises CsvLoadError."""
    reader = csv.reader(text, strict=True)
    try:
        for record in reader:
            yield reader.line_num, record
    except csv.Error as exc:
        raise CsvLoadError(f"CSV line {reader.line_num}: {exc}", line=reader.line_num) from None
    except UnicodeDecodeError as exc:
        raise CsvLoadError(f"CSV is not UTF-8 text: {exc}") from None


class _ProgressReader(io.RawIOBase):
    """Reports every read to a callback, so COPY's reads move the progress bar."""

    def __init__(self, raw: IO[bytes], progress: Progress) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if count:
            self._progress(count)
        return count


def _check_header(header: list[str]) -> None:
    if len(header) > MAX_COLUMNS:
        raise CsvLoadError(
            f"the CSV has {len(header):,} columns; a table holds at most {MAX_COLUMNS:,} "
            "(PostgreSQL's limit): keep the id column and the model's features",
            line=1,
        )
    for name in header:
        try:
            check_identifier(name, "column")
        except InvalidIdentifierError as exc:
            raise InvalidIdentifierError(f"CSV header: {exc}") from None
    duplicates = sorted(name for name, n in Counter(header).items() if n > 1)
    if duplicates:
        raise CsvLoadError(f"CSV header repeats column names: {', '.join(duplicates)}", line=1)


def _infer_type(values: list[str]) -> type[sa.types.TypeEngine]:
    present = [value for value in values if value != ""]
    if not present:
        return sa.Text
    if all(_INTEGER.fullmatch(value) for value in present):
        return sa.BigInteger
    if all(_FLOAT.fullmatch(value) for value in present):
        return sa.Double
    return sa.Text

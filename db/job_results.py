"""batch_predictions: written by chunks with binary COPY, read back as pages or streamed CSV.

Functions take a Connection (or Session) inside the caller's transaction and never commit.
"""

from __future__ import annotations

import csv
import io
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from db.engine import is_postgres
from db.tables import batch_predictions

CSV_BATCH_ROWS = 100_000
FLOAT8_OID = 701
MAX_LABEL_GROUPS = 256
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_MIN_ID = -(2**63)


def write_predictions(
    connection: Connection,
    *,
    job_id: str,
    ids: np.ndarray,
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
) -> int:
    """Insert one prediction row per id (binary COPY on PostgreSQL); returns the rows written.

    The (job_id, entity_id) primary key makes a second write of the same id an error, never
    a duplicate; callers lock the chunk first so that does not happen.
    """
    if len(ids) == 0:
        return 0
    if not is_postgres(connection):
        return _insert_rows(connection, job_id, ids, predictions, probabilities)
    data = encode_copy_binary(job_id, ids, predictions, probabilities)
    raw = connection.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.copy_expert(
            "COPY batch_predictions (job_id, entity_id, prediction, probabilities) "
            "FROM STDIN WITH (FORMAT binary)",
            io.BytesIO(data),
        )
        return cursor.rowcount


def encode_copy_binary(
    job_id: str, ids: np.ndarray, predictions: np.ndarray, probabilities: np.ndarray | None
) -> bytes:
    """PostgreSQL's binary COPY format for (job_id, entity_id, prediction, probabilities).

    Rows are grouped by the byte length of their prediction text, so every group is one
    fixed-width numpy record array: no per-row Python, no float formatting.
    """
    ids = np.asarray(ids, dtype=np.int64)
    parts = [_COPY_HEADER]
    for text, rows in prediction_groups(predictions):
        group_probabilities = probabilities[rows] if probabilities is not None else None
        parts.append(_encode_group(job_id.encode(), ids[rows], text, group_probabilities))
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


def prediction_groups(predictions: np.ndarray) -> Iterator[tuple[Any, np.ndarray]]:
    """(text, row positions) for rows whose prediction text has the same byte length.

    `text` is one bytes value for a class label, a fixed-width bytes array for other values
    (regression), or None for missing predictions (written as NULL).
    """
    codes, labels = pd.factorize(np.asarray(predictions))
    if len(labels) <= MAX_LABEL_GROUPS:
        missing = np.flatnonzero(codes < 0)
        if len(missing):
            yield None, missing
        for code, label in enumerate(labels):
            yield str(label).encode(), np.flatnonzero(codes == code)
        return
    texts = np.char.encode(np.asarray(predictions).astype(str), "utf-8")
    lengths = np.char.str_len(texts)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        yield texts[rows].astype(f"S{max(int(length), 1)}"), rows


def _encode_group(
    job: bytes, ids: np.ndarray, text: Any, probabilities: np.ndarray | None
) -> bytes:
    width = 0 if text is None else (len(text) if isinstance(text, bytes) else text.dtype.itemsize)
    k = 0 if probabilities is None else probabilities.shape[1]
    dtype = _record_dtype(len(job), width if text is not None else None, k)
    # Every field but the id, the text of regression values and the probabilities is the
    # same in every row: fill one template record and broadcast it.
    template = np.zeros(1, dtype=dtype)
    template["count"] = 4
    template["job_len"], template["job"] = len(job), job
    template["id_len"] = 8
    template["text_len"] = -1 if text is None else width
    if isinstance(text, bytes):
        template["text"] = text
    if probabilities is None:
        template["array_len"] = -1
    else:
        template["array_len"] = 20 + 12 * k
        template["ndim"], template["oid"], template["size"], template["lower"] = 1, FLOAT8_OID, k, 1
        template["cells"]["len"] = 8
    records = np.empty(len(ids), dtype=dtype)
    records[:] = template
    records["id"] = ids
    if isinstance(text, np.ndarray):
        records["text"] = text
    if probabilities is not None:
        records["cells"]["value"] = probabilities
    return records.tobytes()


def _record_dtype(job_width: int, text_width: int | None, k: int) -> np.dtype:
    """One binary COPY row: field count, then (length, value) per column, big-endian."""
    fields: list[tuple[Any, ...]] = [
        ("count", ">i2"),
        ("job_len", ">i4"),
        ("job", f"S{job_width}"),
        ("id_len", ">i4"),
        ("id", ">i8"),
        ("text_len", ">i4"),
    ]
    if text_width is not None:
        fields.append(("text", f"S{text_width}"))
    fields.append(("array_len", ">i4"))
    if k:
        # float8[] binary: ndim, has-nulls flag, element type, then (size, lower bound) per
        # dimension, then (length, value) per element.
        fields += [(name, ">i4") for name in ("ndim", "has_nulls", "oid", "size", "lower")]
        fields.append(("cells", [("len", ">i4"), ("value", ">f8")], (k,)))
    return np.dtype(fields)


def _insert_rows(
    connection: Connection,
    job_id: str,
    ids: np.ndarray,
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
) -> int:
    probability_rows = probabilities.tolist() if probabilities is not None else None
    rows = [
        {
            "job_id": job_id,
            "entity_id": int(entity_id),
            "prediction": None if pd.isna(prediction) else str(prediction),
            "probabilities": probability_rows[i] if probability_rows is not None else None,
        }
        for i, (entity_id, prediction) in enumerate(zip(ids.tolist(), predictions, strict=True))
    ]
    connection.execute(batch_predictions.insert(), rows)
    return len(rows)


def read_results(
    session: Session, *, job_id: str, offset: int = 0, limit: int = 100
) -> list[tuple[int, str | None, list[float] | None]]:
    """(entity id, prediction text, probabilities) rows ordered by entity id."""
    table = batch_predictions.c
    query = (
        sa.select(table.entity_id, table.prediction, table.probabilities)
        .where(table.job_id == job_id)
        .order_by(table.entity_id)
        .offset(offset)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query)]


def csv_header(classes: Sequence[Any] | None) -> bytes:
    """The results CSV header: id, prediction, then probability_<class> per class."""
    names = ["id", "prediction", *(f"probability_{label}" for label in classes or ())]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(names)
    return buffer.getvalue().encode()


def stream_results_csv(
    engine: Engine, *, job_id: str, classes: Sequence[Any] | None, batch_rows: int = CSV_BATCH_ROWS
) -> Iterator[bytes]:
    """The job's results as CSV bytes, header first, in entity id order, a batch at a time.

    Each batch is one short query from where the last one stopped, so a slow client holds no
    transaction open.
    """
    yield csv_header(classes)
    start = _MIN_ID
    read_batch = _copy_batch if engine.dialect.name == "postgresql" else _generic_batch
    while True:
        with engine.connect() as connection:
            data, rows, last_id = read_batch(
                connection, job_id, len(classes or ()), start, batch_rows
            )
        if rows:
            yield data
        if rows < batch_rows:
            return
        start = last_id + 1


def _copy_batch(
    connection: Connection, job_id: str, k: int, start: int, limit: int
) -> tuple[bytes, int, int]:
    columns = "entity_id, prediction" + "".join(f", probabilities[{i}]" for i in range(1, k + 1))
    raw = connection.connection.dbapi_connection
    buffer = io.BytesIO()
    with raw.cursor() as cursor:
        # The primary key (job_id, entity_id) yields the rows in order. Right after a large job
        # the table's statistics still count a few rows for it, and the planner then prefers
        # fetching all of the job's rows and sorting them: minutes for 10,000,000 rows, past
        # the statement timeout. Sorting is never needed here.
        cursor.execute("SET LOCAL enable_sort = off")
        select = cursor.mogrify(
            f"SELECT {columns} FROM batch_predictions WHERE job_id = %s AND entity_id >= %s "
            "ORDER BY entity_id LIMIT %s",
            (job_id, start, limit),
        )
        cursor.copy_expert(b"COPY (" + select + b") TO STDOUT WITH (FORMAT csv)", buffer)
        rows = cursor.rowcount
    data = buffer.getvalue()
    if not rows:
        return data, 0, start
    # Ids are integers, never quoted, and open every line; the last line has the last id.
    last_line = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return data, rows, int(last_line.split(b",", 1)[0])


def _generic_batch(
    connection: Connection, job_id: str, k: int, start: int, limit: int
) -> tuple[bytes, int, int]:
    table = batch_predictions.c
    query = (
        sa.select(table.entity_id, table.prediction, table.probabilities)
        .where(table.job_id == job_id, table.entity_id >= start)
        .order_by(table.entity_id)
        .limit(limit)
    )
    rows = connection.execute(query).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for entity_id, prediction, probabilities in rows:
        writer.writerow([entity_id, prediction, *(probabilities or [None] * k)])
    last_id = rows[-1][0] if rows else start
    return buffer.getvalue().encode(), len(rows), last_id

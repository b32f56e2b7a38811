"""Submitting a batch job: the client's request checked against the registry and the catalog.

The API and the CLI both create jobs here; running their chunks is worker.dispatch's part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from db import jobs, registry
from db.chunk_plans import plan_chunks
from db.job_sources import SourceError, check_source, parse_source, stage_csv

MAX_CHUNK_ROWS = 1_000_000


class QueueUnavailableError(RuntimeError):
    """The queue (Redis) refused a recorded job or training run; it was marked failed."""

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


@dataclass(frozen=True)
class JobRequest:
    """A batch job as a client asks for it: model, optional version, source, chunk size."""

    model: str
    version: int | None = None
    source: Any = None  # the request's "source" object; None means the model's feature table
    chunk_rows: int | None = None


def create_batch_job(
    session: Session,
    request: JobRequest,
    *,
    default_chunk_rows: int,
    upload: tuple[Path, str] | None = None,
) -> jobs.JobRecord:
    """Pin the version, check the source against the catalog, plan and record the chunks.

    `upload` is (path, filename) of a CSV to stage as the source. Raises registry's
    ModelNotFoundError / VersionNotFoundError / NoProductionVersionError, db.identifiers'
    TableNotFoundError / ColumnNotFoundError / InvalidIdentifierError, SourceError or
    db.csv_files.CsvLoadError; nothing is written then.
    """
    chunk_rows = check_chunk_rows(
        default_chunk_rows if request.chunk_rows is None else request.chunk_rows
    )
    record = registry.get_version(session, name=request.model, version=request.version)
    metadata = record.metadata()
    spec = metadata.spec or {}
    id_column = spec.get("id_column") or "id"
    connection = session.connection()
    if upload is not None:
        source = stage_csv(connection, upload[0], id_column=id_column, filename=upload[1])
    else:
        source = parse_source(
            request.source or {},
            default_table=spec.get("feature_table"),
            default_id_column=id_column,
        )
    check_source(connection, source, metadata.schema.names)
    return jobs.create_job(
        session,
        model_name=record.name,
        model_version=record.version,
        classes=metadata.classes,
        source=source,
        chunk_rows=chunk_rows,
        chunks=plan_chunks(connection, source, chunk_rows),
    )


def check_chunk_rows(value: Any) -> int:
    """chunk_rows as an integer in 1..MAX_CHUNK_ROWS; SourceError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CHUNK_ROWS:
        raise SourceError(f"chunk_rows must be an integer from 1 to {MAX_CHUNK_ROWS:,}")
    return value

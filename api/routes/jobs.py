"""Batch jobs: submit (JSON or a CSV upload), list, status, results (JSON pages or CSV), cancel."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request, url_for
from werkzeug.utils import secure_filename

from api import errors
from api.auth import admin_required
from api.codecs import parse_json
from api.openapi.declare import documented, link
from api.openapi.schemas import (
    OBJECT,
    OFFSET,
    OK,
    content_response,
    job_body,
    json_response,
    query_parameter,
)
from api.request_checks import form_value
from api.services import parse_version, services
from db import jobs
from db.job_results import read_results, stream_results_csv
from db.job_submission import JobRequest, create_batch_job
from db.tables import JobStatus
from inference.json_values import finite_or_none

bp = Blueprint("jobs", __name__)
MAX_PAGE = 10_000
MAX_VERSION = 999_999_999  # what parse_version accepts: nine digits
STATUS = query_parameter(
    "status", "Only jobs in this status", {"type": "string", "enum": [s.value for s in JobStatus]}
)
FORMAT = query_parameter(
    "format",
    "csv streams every result (also Accept: text/csv)",
    {"type": "string", "enum": ["json", "csv"]},
)


def limit_parameter(highest: int) -> dict[str, Any]:
    """?limit=, at most `highest`."""
    return query_parameter(
        "limit", "Rows per page", {"type": "integer", "minimum": 1, "maximum": highest}
    )


@bp.post("/jobs")
@documented(
    "Submit a batch job (a JSON source, or a multipart CSV upload); 202 with its URL",
    responses={
        "202": {
            **json_response(OBJECT, "Queued; Location points at the job"),
            "links": {
                name: link(method, rule, job_id="$response.body#/id")
                for name, method, rule in (
                    ("status", "GET", "/jobs/<job_id>"),
                    ("results", "GET", "/jobs/<job_id>/results"),
                    ("cancel", "DELETE", "/jobs/<job_id>"),
                )
            },
        }
    },
    errors=(404, 415, 422, 503),
    body=job_body,
)
def submit_job() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create a batch job from JSON or a multipart CSV upload; 202 with its status URL."""
    svc = services()
    with _uploaded_csv() as upload:
        job_request = _form_request() if upload is not None else _json_request()
        with svc.sessions() as session, session.begin():
            job = create_batch_job(
                session,
                job_request,
                default_chunk_rows=svc.settings.batch_chunk_rows,
                upload=upload,
            )
    svc.dispatcher.dispatch(job)
    location = url_for("jobs.job_status", job_id=job.id)
    return job_json(job), 202, {"Location": location}


@bp.get("/jobs")
@documented(
    "Batch jobs, newest first",
    responses=OK,
    errors=(503,),
    query=(STATUS, OFFSET, limit_parameter(1_000)),
)
def list_jobs() -> dict[str, Any]:
    """Jobs newest first; ?status= filters, ?offset= and ?limit= page."""
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in JobStatus}:
        raise errors.InvalidBodyError(
            f"status must be one of {', '.join(s.value for s in JobStatus)}, got {status!r}"
        )
    offset, limit = _page(default_limit=50, max_limit=1_000)
    with services().sessions() as session:
        found = jobs.list_jobs(session, status=status, offset=offset, limit=limit)
        total = jobs.count_jobs(session, status=status)
    return {
        "jobs": [job_json(job) for job in found],
        "total": total,
        "offset": offset,
        "limit": limit,
    }


@bp.get("/jobs/<job_id>")
@documented("Status, progress, timings and error of a batch job", responses=OK, errors=(404, 503))
def job_status(job_id: str) -> dict[str, Any]:
    """Status, progress, timings and the error of one job."""
    return job_json(_get_job(job_id))


@bp.delete("/jobs/<job_id>")
@documented("Cancel a queued or running batch job", responses=OK, errors=(404, 409, 503))
@admin_required
def cancel_job(job_id: str) -> dict[str, Any]:
    """Admin: cancel a queued or started job; its remaining chunks do not run."""
    return job_json(services().dispatcher.cancel(job_id))


@bp.get("/jobs/<job_id>/results")
@documented(
    "Results ordered by entity id: JSON pages, or all of them as streamed CSV",
    responses={"200": content_response("Results", "application/json", "text/csv")},
    errors=(404, 409, 503),
    query=(OFFSET, limit_parameter(MAX_PAGE), FORMAT),
)
def job_results(job_id: str) -> Response | dict[str, Any]:
    """Results ordered by entity id: JSON pages, or all of them as streamed CSV."""
    job = _get_job(job_id)
    if job.active:
        raise errors.JobNotFinishedError(
            f"job {job_id} is {job.status} ({job.rows_done:,} of {job.rows_total:,} rows done); "
            f"poll GET /jobs/{job_id} until it has ended",
            {"status": job.status, "rows_done": job.rows_done, "rows_total": job.rows_total},
        )
    if _wants_csv():
        stream = stream_results_csv(services().engine, job_id=job.id, classes=job.classes)
        return Response(
            stream,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="job-{job.id}.csv"'},
        )
    offset, limit = _page(default_limit=100, max_limit=MAX_PAGE)
    with services().sessions() as session:
        rows = read_results(session, job_id=job.id, offset=offset, limit=limit)
    more = offset + len(rows) < job.rows_done
    next_url = url_for(".job_results", job_id=job.id, offset=offset + limit, limit=limit)
    return {
        "id": job.id,
        "model": job.model_name,
        "version": job.model_version,
        "status": job.status,
        "classes": job.classes,
        "total": job.rows_done,
        "offset": offset,
        "limit": limit,
        "results": [_result_json(row, job.classes) for row in rows],
        "next": next_url if more else None,
    }


def job_json(job: jobs.JobRecord) -> dict[str, Any]:
    """A job as the API shows it."""
    rate = job.rows_per_second
    return {
        "id": job.id,
        "status": job.status,
        "model": job.model_name,
        "version": job.model_version,
        "source": job.source_object().summary(),
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "chunks_total": job.chunks_total,
        "chunks_done": job.chunks_done,
        "chunk_rows": job.chunk_rows,
        "rows_per_second": round(rate, 1) if rate is not None else None,
        "seconds": round(job.seconds, 3) if job.seconds is not None else None,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "error": job.error,
        "links": {
            "self": url_for("jobs.job_status", job_id=job.id),
            "results": url_for("jobs.job_results", job_id=job.id),
        },
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _result_json(row: tuple[int, str | None, list[float] | None], classes: Any) -> dict[str, Any]:
    entity_id, text, probabilities = row
    if classes:
        labels = {str(label): label for label in classes}
        prediction = labels.get(text, text) if text is not None else None
    else:
        prediction = finite_or_none(float(text)) if text is not None else None
    result: dict[str, Any] = {"id": entity_id, "prediction": prediction}
    if classes and probabilities is not None:
        keys = [str(label) for label in classes]
        result["probabilities"] = dict(zip(keys, map(finite_or_none, probabilities), strict=False))
    return result


def _get_job(job_id: str) -> jobs.JobRecord:
    with services().sessions() as session:
        return jobs.get_job(session, job_id=job_id)


def _page(*, default_limit: int, max_limit: int) -> tuple[int, int]:
    offset = _int_arg("offset", 0, 0, None)
    return offset, _int_arg("limit", default_limit, 1, max_limit)


def _int_arg(name: str, default: int, lowest: int, highest: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    text = raw.strip()
    value = int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None
    if value is None or value < lowest or (highest is not None and value > highest):
        bound = f"from {lowest} to {highest}" if highest is not None else f"of at least {lowest}"
        raise errors.InvalidBodyError(
            f"{name} must be an integer {bound}, got {raw!r}", {name: raw}
        )
    return value


def _wants_csv() -> bool:
    if request.args.get("format") is not None:
        return request.args["format"].lower() == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def _json_request() -> JobRequest:
    if not request.is_json:
        raise errors.UnsupportedMediaTypeError(
            "POST /jobs takes application/json, or multipart/form-data with a CSV `file`",
            {"content_type": request.mimetype},
        )
    body = parse_json(request.get_data(cache=False))
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise errors.InvalidBodyError(
            'the body must be an object naming a model: {"model": "adult", "source": '
            '{"table": "adult_features"}}'
        )
    return JobRequest(
        model=body["model"],
        version=_version(body.get("version")),
        source=body.get("source"),
        chunk_rows=body.get("chunk_rows"),
    )


def _form_request() -> JobRequest:
    model = form_value("model")
    if not model:
        raise errors.InvalidBodyError("the form must name a model: model=adult")
    chunk_rows = form_value("chunk_rows")
    return JobRequest(
        model=model,
        version=parse_version(form_value("version")),
        chunk_rows=int(chunk_rows) if _small_int(chunk_rows) else chunk_rows,
    )


def _small_int(text: str | None) -> bool:
    return bool(text) and text.isascii() and text.isdigit() and len(text) < 12


def _version(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_VERSION:
        return value
    return parse_version(str(value)[:20])


@contextlib.contextmanager
def _uploaded_csv() -> Iterator[tuple[Path, str] | None]:
    """(path, filename) of the multipart `file` saved to a temporary file, or None for JSON."""
    if request.mimetype != "multipart/form-data":
        yield None
        return
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise errors.InvalidBodyError("attach the CSV as the multipart field `file`")
    with tempfile.TemporaryDirectory(prefix="skserve-upload-") as folder:
        path = Path(folder) / (secure_filename(upload.filename) or "upload.csv")
        upload.save(path)
        yield path, upload.filename

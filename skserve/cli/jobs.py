"""`skserve jobs`: submit batch prediction jobs, follow them, fetch their results.

The commands talk to the database and the queue directly, not to the API. Without REDIS_URL,
`submit` runs the chunks in this process.
"""

from __future__ import annotations

# Commands import what they use inside their bodies: each loads only what it needs, and
# `skserve --help` stays fast (see COMMANDS in skserve/cli/__init__.py).
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from db.tables import JobStatus
from settings.redis_client import make_redis
from skserve.cli.environment import cli_settings

POLL_SECONDS = 0.5


@click.group()
def jobs() -> None:
    """Batch prediction jobs: submit, status, results, list, cancel."""


@jobs.command()
@click.option("--model", required=True, help="Registered model name, e.g. adult.")
@click.option("--version", type=click.IntRange(min=1), help="Pin a version [default: production].")
@click.option("--table", help="Feature table [default: the model's feature table].")
@click.option("--ids", help="Comma-separated entity ids, e.g. 1,5,42.")
@click.option("--id-range", nargs=2, type=int, metavar="FIRST LAST", help="Inclusive id range.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Score a CSV file (header row; an `id` column is kept, else rows are numbered).",
)
@click.option("--chunk-rows", type=click.IntRange(min=1), help="Rows per chunk [BATCH_CHUNK_ROWS].")
@click.option("--wait", is_flag=True, help="Show progress until the job ends.")
def submit(
    model: str,
    version: int | None,
    table: str | None,
    ids: str | None,
    id_range: tuple[int, int] | None,
    csv_path: Path | None,
    chunk_rows: int | None,
    wait: bool,
) -> None:
    """Submit a batch job; with --wait (or without Redis) follow it to the end."""
    from db.job_submission import JobRequest, create_batch_job

    source = _source(table, ids, id_range, csv_path)
    settings = cli_settings()
    with _context(settings) as context, _refusals():
        upload = (csv_path, csv_path.name) if csv_path is not None else None
        with context.sessions() as session, session.begin():
            job = create_batch_job(
                session,
                JobRequest(model, version, source, chunk_rows),
                default_chunk_rows=settings.batch_chunk_rows,
                upload=upload,
            )
        click.echo(
            f"Job {job.id}: {job.rows_total:,} rows of {job.source['table']} in "
            f"{job.chunks_total} chunk(s), {job.model_name} v{job.model_version}"
        )
        job = _run(context, job, wait)
    _report(job)


def _source(
    table: str | None, ids: str | None, id_range: tuple[int, int] | None, csv_path: Path | None
) -> dict[str, Any]:
    if sum(option is not None for option in (ids, id_range, csv_path)) > 1:
        raise click.UsageError("give at most one of --ids, --id-range and --csv")
    if csv_path is not None and table is not None:
        raise click.UsageError("--csv is its own source; drop --table")
    source: dict[str, Any] = {"table": table} if table else {}
    if ids is not None:
        try:
            source["ids"] = [int(value) for value in ids.split(",") if value.strip()]
        except ValueError:
            raise click.BadParameter(
                "use integers separated by commas", param_hint="--ids"
            ) from None
    if id_range is not None:
        source["id_range"] = list(id_range)
    return source


def _run(context: Any, job: Any, wait: bool) -> Any:
    from worker.dispatch import Dispatcher, run_job_inline

    if context.settings.redis_url is None:
        click.echo("REDIS_URL is not set: running the chunks in this process.")
        with _progress(job) as advance:
            return run_job_inline(context, job, progress=advance)
    redis = make_redis(context.settings.redis_url)
    Dispatcher(context, redis).dispatch(job)
    if not _workers_running(redis):
        click.echo("No worker is running yet: start one with `skserve worker`.", err=True)
    if not wait:
        click.echo(f"Queued on the workers. Follow it: skserve jobs status {job.id}")
        return job
    with _progress(job) as advance:
        return _follow(context, job, advance)


def _workers_running(redis: Any) -> bool:
    from rq import Worker

    return Worker.count(connection=redis) > 0


def _follow(context: Any, job: Any, advance: Any) -> Any:
    """Poll the job's row until it ends, moving the progress bar."""
    from db import jobs as job_rows

    while job.active:
        time.sleep(POLL_SECONDS)
        with context.sessions() as session:
            job = job_rows.get_job(session, job_id=job.id)
        advance(job)
    return job


@contextlib.contextmanager
def _progress(job: Any) -> Iterator[Any]:
    with click.progressbar(length=job.rows_total, label="Predicting", show_pos=True) as bar:
        done = [0]

        def advance(current: Any) -> None:
            bar.update(current.rows_done - done[0])
            done[0] = current.rows_done

        yield advance


def _report(job: Any) -> None:
    if job.active:
        return
    if job.status == "failed":
        raise click.ClickException(f"job {job.id} failed: {job.error}")
    rate = f", {job.rows_per_second:,.0f} rows/s" if job.rows_per_second else ""
    click.echo(f"Job {job.id} {job.status}: {job.rows_done:,} rows in {job.seconds:.1f} s{rate}.")
    if job.status == "finished":
        click.echo(
            f"Results: skserve jobs results {job.id} --csv results.csv, or GET "
            f"/jobs/{job.id}/results; in the database: batch_predictions where job_id = "
            f"'{job.id}'."
        )


@jobs.command()
@click.argument("job_id")
def status(job_id: str) -> None:
    """Show a job's status, progress, timings and error."""
    from db import jobs as job_rows

    with _context(cli_settings()) as context, _refusals(), context.sessions() as session:
        job = job_rows.get_job(session, job_id=job_id)
    rate = f"{job.rows_per_second:,.0f}" if job.rows_per_second else "-"
    seconds = f"{job.seconds:.1f}" if job.seconds is not None else "-"
    for label, value in [
        ("id", job.id),
        ("status", job.status),
        ("model", f"{job.model_name} v{job.model_version}"),
        ("source", job.source_object().summary()),
        ("rows", f"{job.rows_done:,} / {job.rows_total:,}"),
        ("chunks", f"{job.chunks_done} / {job.chunks_total} of {job.chunk_rows:,} rows"),
        ("seconds", seconds),
        ("rows/s", rate),
        ("created", job.created_at),
        ("started", job.started_at or "-"),
        ("finished", job.finished_at or "-"),
        ("error", job.error or "-"),
    ]:
        click.echo(f"{label:<9} {value}")


@jobs.command()
@click.argument("job_id")
@click.option(
    "--csv",
    "out",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the results here as CSV ('-' for stdout).",
)
def results(job_id: str, out: str) -> None:
    """Write a job's results as CSV: id, prediction, one probability column per class."""
    from db import jobs as job_rows
    from db.job_results import stream_results_csv

    with _context(cli_settings()) as context, _refusals():
        with context.sessions() as session:
            job = job_rows.get_job(session, job_id=job_id)
        if job.active:
            raise click.ClickException(
                f"job {job_id} is {job.status} ({job.rows_done:,} of {job.rows_total:,} rows); "
                f"wait for it: skserve jobs status {job_id}"
            )
        stream = stream_results_csv(context.engine, job_id=job.id, classes=job.classes)
        with click.open_file(out, "wb") as target:
            for part in stream:
                target.write(part)
    if out != "-":
        click.echo(f"Wrote {job.rows_done:,} rows to {out}", err=True)


@jobs.command(name="list")
@click.option(
    "--status",
    "status_",
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs with this status.",
)
@click.option("--limit", type=click.IntRange(1, 1_000), default=20, show_default=True)
def list_(status_: str | None, limit: int) -> None:
    """List jobs, newest first."""
    from db import jobs as job_rows

    with _context(cli_settings()) as context, context.sessions() as session:
        found = job_rows.list_jobs(session, status=status_, limit=limit)
    for job in found:
        click.echo(
            f"{job.id}  {job.status:<9} {job.model_name} v{job.model_version}  "
            f"{job.rows_done:,}/{job.rows_total:,} rows  {job.created_at:%Y-%m-%d %H:%M:%S %Z}"
        )


@jobs.command()
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel a queued or started job; chunks not yet started do not run."""
    from worker.dispatch import Dispatcher

    with _context(cli_settings()) as context, _refusals():
        job = Dispatcher(context).cancel(job_id)
    click.echo(f"Job {job.id} {job.status} ({job.rows_done:,} rows were done).")


@contextlib.contextmanager
def _context(settings: Any) -> Iterator[Any]:
    from worker.context import JobContext

    context = JobContext.from_settings(settings)
    try:
        yield context
    finally:
        context.engine.dispose()


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The core's refusals (unknown model, table, column, ids, job...) as CLI errors."""
    from db.job_submission import QueueUnavailableError

    try:
        yield
    except (LookupError, ValueError, QueueUnavailableError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("\nInterrupted; see where the job stands: skserve jobs list", err=True)
        sys.exit(130)

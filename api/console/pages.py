"""The /ui/ pages: server-rendered Jinja templates, htmx fragments for the live parts.

Pages only read. Changes are made by the browser calling the JSON admin endpoints with the
token it keeps in sessionStorage (static/console.js), so the console adds no route that
changes anything and no hook to the prediction routes.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from api import errors
from api.console import views
from api.error_handlers import CORE_ERRORS, core_error

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Only this app's own files: no CDN, no inline scripts, nothing framed elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


@bp.after_request
def secure_headers(response: Response) -> Response:
    """A strict CSP on every console response (the API's JSON routes are untouched)."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.errorhandler(errors.APIError)
def error_page(exc: errors.APIError) -> tuple[str, int]:
    """A console page for an unknown model or job, in HTML instead of JSON."""
    return render_template("console/error.html", error=exc), exc.status


def core_error_page(exc: Exception) -> tuple[str, int]:
    """A core exception (an unknown model or job) as the same HTML page."""
    row = core_error(exc)
    shown = {"status": row.status, "error_code": row.error_code, "message": row.message(exc)}
    return render_template("console/error.html", error=shown), row.status


for _core_exception in CORE_ERRORS:
    bp.register_error_handler(_core_exception, core_error_page)


@bp.get("/")
def models() -> str:
    """Every model: production version, metrics, fast path, traffic, latency."""
    return render_template("console/models.html", rows=views.model_rows(), page="models")


@bp.get("/models/<path:name>")
def model(name: str) -> str:
    """One model: versions, features, playground, monitoring, rollout settings."""
    return render_template("console/model.html", m=views.model_page(name), page="models")


@bp.get("/models/<path:name>/versions-table")
def versions_table(name: str) -> str:
    """The versions table alone (re-fetched after a promotion)."""
    return render_template("console/_versions.html", m=views.model_page(name))


@bp.get("/jobs")
def jobs() -> str:
    """The job list with live progress, and the submit form."""
    return render_template(
        "console/jobs.html", jobs=views.job_rows(), models=views.model_names(), page="jobs"
    )


@bp.get("/jobs/rows")
def job_rows() -> str:
    """The job list's rows (polled by htmx)."""
    return render_template("console/_job_rows.html", jobs=views.job_rows())


@bp.get("/jobs/<job_id>")
def job(job_id: str) -> str:
    """One job: progress, timings, error, results download."""
    return render_template("console/job.html", job=views.job_view(job_id), page="jobs")


@bp.get("/jobs/<job_id>/panel")
def job_panel(job_id: str) -> str:
    """One job's live panel (polled by htmx while the job is active)."""
    return render_template("console/_job_panel.html", job=views.job_view(job_id))

"""The batch job fixtures, for the `skserve jobs` commands that submit and run jobs."""

from tests.worker.conftest import job_context, jobs_settings  # noqa: F401

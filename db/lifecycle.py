"""What batch jobs and training runs share: the active statuses and the timed row they keep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from db.tables import JobStatus

ACTIVE = (JobStatus.QUEUED, JobStatus.STARTED)
TERMINAL = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED)
ACTIVE_VALUES = [status.value for status in ACTIVE]


@dataclass(frozen=True)
class Lifecycle:
    """What a batch_jobs and a training_runs row share: id, model, status and timestamps."""

    id: str
    model_name: str
    status: str
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    @property
    def active(self) -> bool:
        """True while queued or started."""
        return self.status in ACTIVE

    @property
    def seconds(self) -> float | None:
        """Seconds from the start to the end (or to now), None before it started."""
        if self.started_at is None:
            return None
        end = self.finished_at or datetime.now(UTC)
        return max((end - self.started_at).total_seconds(), 0.0)

"""How a candidate version's predictions compare with production's on the same requests.

Computed in PostgreSQL over `prediction_log`: a shadow (or canary) row and the production row
of the same request share `request_id`, and row `i` of a request is element `i` of every
output array (db/prediction_log.py). Feedback addressed by request id and row
(`prediction_feedback`) gives both versions' live accuracy (classifiers) or mean absolute
error (regressors) on the same rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


class ComparisonUnsupportedError(RuntimeError):
    """The database cannot compute the comparison (only PostgreSQL has the JSON functions)."""


@dataclass(frozen=True)
class Comparison:
    """Agreement of `version` with `production` over the requests both predicted."""

    version: int
    production: int
    requests: int
    rows: int
    agreement: float | None  # share of rows with equal predictions
    mean_abs_probability_difference: float | None  # over rows and classes
    labelled_rows: int
    accuracy: dict[str, float | None]  # {"production": ..., "version": ...} on labelled rows
    mean_abs_error: dict[str, float | None]  # the same for regressors' true values

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


_PAIRS = """
WITH pairs AS (
    SELECT base.request_id, base.outputs::json AS base_out, cand.outputs::json AS cand_out
    FROM prediction_log AS base
    JOIN prediction_log AS cand
      ON cand.request_id = base.request_id
     AND cand.model_name = base.model_name
     AND cand.rows = base.rows
    WHERE base.model_name = :name
      AND base.model_version = :production
      AND cand.model_version = :version
      AND base.request_id IS NOT NULL
      AND base.logged_at >= :since AND base.logged_at < :until
      AND cand.logged_at >= :since
),
predicted AS (
    SELECT pairs.request_id, b.idx - 1 AS row_index, b.value AS base, c.value AS cand
    FROM pairs
    CROSS JOIN LATERAL json_array_elements_text(pairs.base_out -> 'predictions')
        WITH ORDINALITY AS b(value, idx)
    JOIN LATERAL json_array_elements_text(pairs.cand_out -> 'predictions')
        WITH ORDINALITY AS c(value, idx) ON c.idx = b.idx
),
probabilities AS (
    SELECT avg(abs(bp.value::float - cp.value::float)) AS difference
    FROM pairs
    CROSS JOIN LATERAL json_each(pairs.base_out -> 'probabilities') AS bc(label, probs)
    JOIN LATERAL json_each(pairs.cand_out -> 'probabilities') AS cc(label, probs)
        ON cc.label = bc.label
    CROSS JOIN LATERAL json_array_elements_text(bc.probs) WITH ORDINALITY AS bp(value, idx)
    JOIN LATERAL json_array_elements_text(cc.probs) WITH ORDINALITY AS cp(value, idx)
        ON cp.idx = bp.idx
),
labelled AS (
    SELECT
        count(*) AS n,
        avg(CASE WHEN p.base = f.label THEN 1.0 ELSE 0.0 END)
            FILTER (WHERE f.label IS NOT NULL) AS base_accuracy,
        avg(CASE WHEN p.cand = f.label THEN 1.0 ELSE 0.0 END)
            FILTER (WHERE f.label IS NOT NULL) AS cand_accuracy,
        avg(abs(p.base::float - f.value)) FILTER (WHERE f.value IS NOT NULL) AS base_error,
        avg(abs(p.cand::float - f.value)) FILTER (WHERE f.value IS NOT NULL) AS cand_error
    FROM predicted AS p
    JOIN prediction_feedback AS f
      ON f.model_name = :name AND f.request_id = p.request_id AND f.row_index = p.row_index
)
SELECT
    (SELECT count(*) FROM pairs) AS requests,
    (SELECT count(*) FROM predicted) AS rows,
    (SELECT avg(CASE WHEN base = cand THEN 1.0 ELSE 0.0 END) FROM predicted) AS agreement,
    (SELECT difference FROM probabilities) AS difference,
    labelled.*
FROM labelled
"""


def compare_versions(
    session: Session,
    *,
    name: str,
    version: int,
    production: int,
    since: datetime,
    until: datetime,
) -> Comparison:
    """Compare `version` with `production` on the requests both predicted in [since, until)."""
    if session.get_bind().dialect.name != "postgresql":
        raise ComparisonUnsupportedError(
            "comparisons are computed in PostgreSQL; set DATABASE_URL to a PostgreSQL database"
        )
    row = session.execute(
        sa.text(_PAIRS),
        {
            "name": name,
            "version": version,
            "production": production,
            "since": since,
            "until": until,
        },
    ).one()
    return Comparison(
        version=version,
        production=production,
        requests=row.requests,
        rows=row.rows,
        agreement=_float(row.agreement),
        mean_abs_probability_difference=_float(row.difference),
        labelled_rows=row.n,
        accuracy={"production": _float(row.base_accuracy), "version": _float(row.cand_accuracy)},
        mean_abs_error={"production": _float(row.base_error), "version": _float(row.cand_error)},
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)

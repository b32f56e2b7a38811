"""Ground truth for logged predictions: checked, stored once, and joined back in SQL.

A feedback item names one logged prediction, by the request id its response carried plus the
row index (`{"request_id": "...", "row": 0, "label": ">50K"}`), or by entity id
(`{"id": 17, "label": "<=50K", "time": "2026-12-01T10:00:00Z"}`: the latest served
prediction of that entity at or before `time`, or before now). Each item is answered on its
own: accepted, already known (the same `feedback_key` is stored once), or rejected with why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from db.drift import SERVED_ROLES, require_postgres, served_window
from db.tables import prediction_feedback, prediction_log

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_ENTITY_ID = 2**63 - 1


@dataclass(frozen=True)
class Feedback:
    """One accepted-so-far item, addressed to a logged prediction."""

    index: int  # its position in the request
    label: str | None
    value: float | None
    request_id: str | None = None
    row: int | None = None
    entity_id: int | None = None
    observed_at: datetime | None = None
    version: int | None = None  # the version that answered, once resolved

    @property
    def key(self) -> str:
        """What makes it unique per model (prediction_feedback.feedback_key)."""
        if self.entity_id is not None:
            time = self.observed_at.isoformat() if self.observed_at else ""
            return f"entity:{self.entity_id}:{time}"
        return f"request:{self.request_id}:{self.row}"


@dataclass
class Outcome:
    """What became of a request's items."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] | None = None

    def reject(self, index: int, reason: str) -> None:
        """Report one item as rejected."""
        self.rejected = self.rejected or []
        self.rejected.append({"index": index, "error": reason})


def parse_items(items: Sequence[Any], outcome: Outcome) -> list[Feedback]:
    """The well-formed items; the others are rejected in `outcome`."""
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(_parse_item(index, item))
        except ValueError as exc:
            outcome.reject(index, str(exc))
    return parsed


def _parse_item(index: int, item: Any) -> Feedback:
    if not isinstance(item, Mapping):
        raise ValueError('an item is an object such as {"request_id": "...", "row": 0, "label": 1}')
    unknown = sorted(set(item) - {"request_id", "row", "id", "time", "label", "value"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(str, unknown))[:200]}")
    label, value = _truth(item)
    if "id" in item:
        if "request_id" in item or "row" in item:
            raise ValueError("address a prediction by request_id and row, or by id, not both")
        return Feedback(
            index, label, value, entity_id=_entity_id(item["id"]), observed_at=_time(item)
        )
    request_id, row = item.get("request_id"), item.get("row")
    if not isinstance(request_id, str) or not REQUEST_ID.fullmatch(request_id):
        raise ValueError("request_id must be the X-Request-ID of a prediction response")
    if not _is_int(row) or not 0 <= row < 2**31:
        raise ValueError("row must be the 0-based row index of the prediction in its request")
    return Feedback(index, label, value, request_id=request_id, row=row)


def _truth(item: Mapping[str, Any]) -> tuple[str | None, float | None]:
    if ("label" in item) == ("value" in item):
        raise ValueError("give the true label (classifiers) or value (regressors), once")
    if "label" in item:
        label = item["label"]
        if isinstance(label, bool) or not isinstance(label, str | int | float):
            raise ValueError("label must be one of the model's classes")
        return str(label), None
    value = item["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("value must be a finite number")
    return None, float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entity_id(raw: Any) -> int:
    if not _is_int(raw) or not 0 <= raw <= MAX_ENTITY_ID:
        raise ValueError("id must be the integer entity id a prediction by id was made for")
    return raw


def _time(item: Mapping[str, Any]) -> datetime | None:
    raw = item.get("time")
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError("time must be an ISO 8601 timestamp such as 2026-12-01T10:00:00Z")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve(connection: Connection, *, model_name: str, items: list[Feedback], outcome: Outcome):
    """The items whose prediction is in the log, with the answering version; others rejected."""
    require_postgres(connection)
    by_request = _logged_requests(connection, model_name, [i.request_id for i in items])
    by_entity = _latest_by_entity(
        connection, model_name, [i for i in items if i.entity_id is not None]
    )
    resolved = []
    for item in items:
        if item.entity_id is not None:
            found = by_entity.get(item.index)
            if found is None:
                outcome.reject(item.index, f"no logged prediction for id {item.entity_id}")
                continue
            resolved.append(replace(item, request_id=found[0], row=found[1], version=found[2]))
            continue
        logged = by_request.get(item.request_id)
        if logged is None:
            outcome.reject(item.index, f"unknown request id {item.request_id!r} for this model")
        elif item.row >= logged[0]:
            outcome.reject(item.index, f"row {item.row} is beyond the {logged[0]} row(s) predicted")
        else:
            resolved.append(replace(item, version=logged[1]))
    return resolved


def _logged_requests(
    connection: Connection, model_name: str, request_ids: list[str | None]
) -> dict[str, tuple[int, int]]:
    """{request id: (rows, version)} of the served log rows among `request_ids`."""
    wanted = sorted({rid for rid in request_ids if rid is not None})
    if not wanted:
        return {}
    log = prediction_log.c
    query = (
        sa.select(log.request_id, sa.func.max(log.rows), sa.func.max(log.model_version))
        .where(log.model_name == model_name, log.role.in_(SERVED_ROLES))
        .where(log.request_id.in_(wanted))
        .group_by(log.request_id)
    )
    return {rid: (rows, version) for rid, rows, version in connection.execute(query)}


def _latest_by_entity(
    connection: Connection, model_name: str, items: list[Feedback]
) -> dict[int, tuple[str, int, int]]:
    """{item index: (request id, row, version)} of each entity's latest prediction by then."""
    if not items:
        return {}
    now = datetime.now(UTC)
    query = sa.text(
        "SELECT DISTINCT ON (e.pos) e.pos, l.request_id, (v.idx - 1)::int, l.model_version "
        f"FROM {prediction_log.name} AS l "
        "CROSS JOIN LATERAL json_array_elements_text(l.outputs::json -> 'ids') "
        "WITH ORDINALITY AS v(value, idx) "
        "JOIN unnest(CAST(:positions AS int[]), CAST(:ids AS text[]), "
        "CAST(:times AS timestamptz[])) AS e(pos, id, t) ON e.id = v.value AND l.logged_at <= e.t "
        "WHERE l.model_name = :model AND l.role = ANY(:roles) AND l.request_id IS NOT NULL "
        "AND l.logged_at <= :latest "
        "ORDER BY e.pos, l.logged_at DESC"
    )
    times = [item.observed_at or now for item in items]
    params = {
        "positions": [item.index for item in items],
        "ids": [str(item.entity_id) for item in items],
        "times": times,
        "model": model_name,
        "roles": list(SERVED_ROLES),
        "latest": max(times),
    }
    return {
        pos: (rid, row, version) for pos, rid, row, version in connection.execute(query, params)
    }


def check_truth(
    items: list[Feedback], classes: Mapping[int, Sequence[str] | None], outcome: Outcome
) -> list[Feedback]:
    """The items whose label is a class of the answering version (or whose value suits a
    regressor); `classes` maps each version to its class labels as text, None for regressors."""
    kept = []
    for item in items:
        labels = classes.get(item.version)
        if labels is None and item.value is None:
            outcome.reject(item.index, "this version is a regressor: send the true value")
        elif labels is not None and item.label not in labels:
            shown = ", ".join(labels[:20])
            outcome.reject(item.index, f"label {item.label!r:.100} is not a class ({shown})")
        else:
            kept.append(item)
    return kept


def store(connection: Connection, *, model_name: str, items: list[Feedback], outcome: Outcome):
    """Insert the items; one already stored under the same key counts as a duplicate."""
    if not items:
        return
    rows = [
        {
            "model_name": model_name,
            "feedback_key": item.key,
            "request_id": item.request_id,
            "row_index": item.row,
            "entity_id": item.entity_id,
            "observed_at": item.observed_at,
            "label": item.label,
            "value": item.value,
        }
        for item in items
    ]
    statement = (
        postgresql.insert(prediction_feedback)
        .on_conflict_do_nothing(index_elements=["model_name", "feedback_key"])
        .returning(prediction_feedback.c.id)
    )
    inserted = len(connection.execute(statement, rows).all()) if rows else 0
    outcome.accepted += inserted
    outcome.duplicates += len(rows) - inserted


@dataclass(frozen=True)
class LabelledRow:
    """A served prediction with its true label or value, as performance scores it."""

    bucket: datetime
    truth: str | float
    predicted: Any
    probabilities: list[float] | None


def labelled_rows(
    connection: Connection,
    *,
    model_name: str,
    version: int,
    since: datetime,
    until: datetime,
    bucket_seconds: int,
    classes: Sequence[str] | None,
) -> list[LabelledRow]:
    """The version's served predictions in [since, until) that have feedback, joined in SQL."""
    require_postgres(connection)
    params = {**served_window(model_name, version, since, until), "seconds": bucket_seconds}
    probability_columns = ""
    for position, label in enumerate(classes or []):
        params[f"class{position}"] = label
        probability_columns += (
            f", (l.outputs::json -> 'probabilities' -> :class{position} ->> f.row_index)::float8"
        )
    truth = "f.label" if classes is not None else "f.value"
    query = sa.text(
        "SELECT DISTINCT ON (f.request_id, f.row_index) "
        "date_bin(make_interval(secs => :seconds), l.logged_at, TIMESTAMPTZ '2000-01-01'), "
        f"{truth}, l.outputs::json -> 'predictions' ->> f.row_index{probability_columns} "
        f"FROM {prediction_feedback.name} AS f JOIN {prediction_log.name} AS l "
        "ON l.model_name = f.model_name AND l.request_id = f.request_id "
        "WHERE f.model_name = :model AND l.model_version = :version AND l.role = ANY(:roles) "
        "AND l.logged_at >= :since AND l.logged_at < :until AND f.row_index < l.rows "
        "ORDER BY f.request_id, f.row_index, f.received_at DESC"
    )
    rows = []
    for bucket, truth_value, predicted, *probabilities in connection.execute(query, params):
        if classes is None:
            predicted = float(predicted)
        complete = probabilities and None not in probabilities  # no predict_proba: all null
        rows.append(
            LabelledRow(bucket, truth_value, predicted, probabilities if complete else None)
        )
    return rows

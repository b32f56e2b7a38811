"""Canary and shadow versions over HTTP: the traffic setting and the comparison with production.

PUT needs the admin token (like promotion); reads are open.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, request

from api import errors
from api.auth import admin_required
from api.codecs import parse_json
from api.openapi.declare import documented
from api.openapi.schemas import OK, query_parameter
from api.services import parse_version, services
from db import registry
from db.comparison import compare_versions
from db.traffic import InvalidTrafficError, Traffic, read_traffic, set_traffic

bp = Blueprint("traffic", __name__)

COMPARISON_WINDOW = timedelta(hours=24)  # `since` when the client gives none
TRAFFIC_KEYS = {"production", "canary", "shadow"}
TIME = {"type": "string", "format": "date-time"}
TRAFFIC_SETTING = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "production": {"type": "integer", "minimum": 1, "nullable": True},
        "canary": {
            "type": "object",
            "nullable": True,
            "additionalProperties": False,
            "required": ["version", "percent"],
            "properties": {
                "version": {"type": "integer", "minimum": 1},
                "percent": {"type": "number", "minimum": 0, "maximum": 100},
            },
        },
        "shadow": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    },
    "example": {"production": 3, "canary": {"version": 4, "percent": 10}, "shadow": [5]},
}


@bp.get("/models/<name>/traffic")
@documented(
    "Production, canary (version, percent) and shadow versions, plus this process's shadow "
    "queue and load failures",
    responses=OK,
    errors=(404, 503),
)
def show_traffic(name: str) -> dict[str, Any]:
    """The traffic setting, plus this process's shadow queue and load failures."""
    with services().sessions() as session:
        traffic = read_traffic(session, name=name)
    return traffic_body(name, traffic)


@bp.put("/models/<name>/traffic")
@documented(
    "Set production, the canary's share and the shadow versions at once (every API process "
    "follows within 2 s)",
    responses=OK,
    errors=(404, 503),
    body=lambda served: {"application/json": {"schema": TRAFFIC_SETTING}},
)
@admin_required
def put_traffic(name: str) -> dict[str, Any]:
    """Set production, canary and shadow versions at once; every process follows within 2 s."""
    wanted = parse_traffic(request.get_data(cache=False))
    svc = services()
    for version in sorted(wanted.versions()):
        svc.model(name, str(version))  # loads it here first; 404 for unknown versions
    with svc.sessions() as session, session.begin():
        traffic = set_traffic(session, name=name, wanted=wanted)
    svc.store.refresh()
    return traffic_body(name, traffic)


@bp.get("/models/<name>/comparison")
@documented(
    "Agreement of a canary or shadow version with production on the same requests, and both "
    "versions' live accuracy where feedback exists",
    responses=OK,
    errors=(404, 501, 503),
    query=(
        {
            **query_parameter("version", "The version to compare", {"type": "integer"}),
            "required": True,
        },
        query_parameter("since", "Window start, ISO 8601 (default: 24 h before until)", TIME),
        query_parameter("until", "Window end, ISO 8601 (default: now)", TIME),
    ),
)
def comparison(name: str) -> dict[str, Any]:
    """Agreement of `?version=` with production over the requests both predicted."""
    raw = request.args.get("version")
    if raw is None:
        raise errors.InvalidParameterError(
            "name the version to compare with production: ?version=N", {"parameter": "version"}
        )
    version = parse_version(raw)
    until = parse_time("until", datetime.now(UTC))
    since = parse_time("since", until - COMPARISON_WINDOW)
    if since >= until:
        raise errors.InvalidParameterError(
            "since must be before until", {"since": since.isoformat(), "until": until.isoformat()}
        )
    with services().sessions() as session:
        registry.get_version(session, name=name, version=version)
        production = registry.get_version(session, name=name).version
        if version == production:
            raise errors.InvalidParameterError(
                f"v{version} is the production version; compare a canary or shadow version",
                {"version": version},
            )
        found = compare_versions(
            session, name=name, version=version, production=production, since=since, until=until
        )
    return {
        "model": name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        **found.to_dict(),
    }


def traffic_body(name: str, traffic: Traffic) -> dict[str, Any]:
    """The setting as PUT takes it, plus what this process sees (one gunicorn worker)."""
    svc = services()
    failures = [
        {"version": f.version, "error": f.error}
        for (model, _), f in sorted(svc.store.traffic_failures.items())
        if model == name
    ]
    shadow_queue = svc.shadows.stats() if svc.shadows is not None else {}
    return {
        "model": name,
        **traffic.to_dict(),
        "this_process": {
            "pid": os.getpid(),
            "shadow_queue": shadow_queue,
            "load_failures": failures,
        },
    }


def parse_traffic(raw: bytes) -> Traffic:
    """The PUT body as a Traffic (production None: keep the current one)."""
    if not raw.strip():
        raise InvalidTrafficError(
            'send the setting: {"production": 3, "canary": {"version": 4, "percent": 10}, '
            '"shadow": [5]}',
            "body",
        )
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidTrafficError("the body must be a JSON object", "body")
    unknown = sorted(set(body) - TRAFFIC_KEYS)
    if unknown:
        raise InvalidTrafficError(
            f"unknown field {unknown[0]!r}; the fields are production, canary and shadow",
            unknown[0],
        )
    production = _version(body.get("production"), "production", optional=True)
    canary = body.get("canary")
    canary_version, percent = None, 0.0
    if canary is not None:
        if not isinstance(canary, dict) or set(canary) != {"version", "percent"}:
            raise InvalidTrafficError(
                'canary must be {"version": N, "percent": P} or null', "canary"
            )
        canary_version = _version(canary["version"], "canary.version")
        percent = _percent(canary["percent"])
    shadow = body.get("shadow")
    if shadow is None:
        shadow = []
    if not isinstance(shadow, list):
        raise InvalidTrafficError("shadow must be a list of versions, e.g. [5]", "shadow")
    versions = tuple(_version(v, "shadow") for v in shadow)
    return Traffic(production, canary_version, percent, versions)


def _version(value: Any, field: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 10**9:
        raise InvalidTrafficError(f"{field} must be a version number, got {value!r:.40}", field)
    return value


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidTrafficError(f"canary percent must be a number, got {value!r:.40}", "percent")
    if not 0 <= value <= 100:
        raise InvalidTrafficError(
            f"canary percent must be between 0 and 100, got {value}", "percent"
        )
    return float(value)


def parse_time(parameter: str, default: datetime) -> datetime:
    """An ISO 8601 query argument (UTC when it names no offset); 400 when it is not one."""
    raw = request.args.get(parameter)
    if raw is None:
        return default
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.InvalidParameterError(
            f"{parameter} must be an ISO 8601 time such as 2026-12-01T12:00:00Z, got {raw!r:.60}",
            {"parameter": parameter},
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""Liveness, readiness and the usage page."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, request

from api.auth import is_admin
from api.error_handlers import ANSWERABLE, describe, error_response
from api.errors import NotReadyError
from api.openapi.declare import documented
from api.openapi.schemas import OK, content_response
from api.services import Services, services
from api.usage import usage_response

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/health")
@documented("Liveness: the process answers; touches no dependency", responses=OK)
def health() -> dict[str, str]:
    """Liveness: the process answers. Touches no dependency."""
    return {"status": "ok"}


@bp.get("/ready")
@documented(
    "Readiness: the database, Redis and the default model are usable",
    responses=OK,
    errors=(503,),
)
def ready() -> Response | dict[str, Any]:
    """Readiness: 200 when the database, Redis and the default model are usable, else 503.

    Anonymous callers see which checks fail; why (hosts, ports, driver errors) is logged and
    shown only to the admin token.
    """
    svc = services()
    checks = {
        "database": check_database(svc),
        "redis": check_redis(svc),
        "default_model": check_default_model(svc),
    }
    failing = [name for name, check in checks.items() if not check["ok"]]
    reasons = "; ".join(f"{name}: {checks[name]['detail']}" for name in failing)
    if failing:
        log.warning("not ready: %s", reasons)
    if svc.store.failures:
        checks["load_failures"] = {
            name: f"v{f.version}: {f.error}" for name, f in svc.store.failures.items()
        }
    if not is_admin(request.headers.get("Authorization")):
        checks, reasons = anonymous_checks(checks), ", ".join(failing)
    if failing:
        return error_response(
            503, NotReadyError.error_code, f"not ready: {reasons}", {"checks": checks}
        )
    return {"status": "ready", "checks": checks}


def anonymous_checks(checks: dict[str, Any]) -> dict[str, Any]:
    """The checks without their details; failed model loads by name and version only."""
    shown: dict[str, Any] = {
        name: {"ok": check["ok"]} for name, check in checks.items() if name != "load_failures"
    }
    if "load_failures" in checks:
        shown["load_failures"] = {
            name: text.partition(":")[0] for name, text in checks["load_failures"].items()
        }
    return shown


@bp.get("/usage")
@documented(
    "How to call the API, with copy-paste examples (text; JSON with Accept: application/json)",
    responses={"200": content_response("The usage page", "text/plain", "application/json")},
    errors=(503,),
)
def usage() -> Response:
    """How to call the API, with examples built from the served models."""
    return usage_response()


def _check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


def check_database(svc: Services) -> dict[str, Any]:
    """SELECT 1 on the pool, within the statement timeout."""
    try:
        if svc.deadline is None:
            select_one(svc.engine)
        else:
            svc.deadline.run(select_one, svc.engine)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return _check(False, f"unavailable ({reason})")
    return _check(True, svc.engine.dialect.name)


def select_one(engine: sa.Engine) -> None:
    """One round trip to the database."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def check_redis(svc: Services) -> dict[str, Any]:
    """PING when REDIS_URL is set; the embedded queue needs nothing."""
    if svc.redis is None:
        return _check(True, "embedded queue (REDIS_URL not set)")
    try:
        svc.redis.ping()
    except Exception as exc:  # redis raises several unrelated exception types
        return _check(False, f"unavailable ({type(exc).__name__}: {exc})")
    return _check(True, "ping ok")


def check_default_model(svc: Services) -> dict[str, Any]:
    """The default model resolves and its production version is loaded (loading it if needed)."""
    try:
        model = svc.model(svc.default_model_name())
    except ANSWERABLE as exc:
        return _check(False, describe(exc)[0])
    except sa.exc.SQLAlchemyError:
        return _check(False, "cannot be looked up while the database is unavailable")
    return _check(True, f"{model.name} v{model.version} loaded")

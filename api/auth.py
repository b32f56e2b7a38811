"""Bearer tokens: `ADMIN_TOKEN` on admin endpoints, the optional `API_TOKEN` on everything else.

With `API_TOKEN` unset (the default) only admin endpoints need a token. With it set, every
route needs `Authorization: Bearer <API_TOKEN>` (or the admin token) except the probes and
documents in OPEN_ENDPOINTS.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import Flask, request

from api import errors
from api.openapi.declare import ADMIN_ONLY
from api.services import services

# Probes, metrics and the API's own description stay open whatever API_TOKEN says: load
# balancers, Kubernetes, SageMaker and Prometheus call them without credentials.
OPEN_ENDPOINTS = frozenset(
    {
        "health.health",
        "health.ready",
        "metrics",
        "mlflow.ping",
        "mlflow.version",
        "v2.live",
        "v2.ready",
        "docs.openapi",
        "docs.docs",
        "docs.docs_asset",
    }
)


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_matches(token: str, configured: str | None) -> bool:
    """Constant-time comparison; never true when nothing is configured."""
    return bool(configured) and hmac.compare_digest(token.encode(), configured.encode())


def is_admin(header: str | None) -> bool:
    """True when the header carries the configured admin token."""
    token = bearer_token(header)
    return token is not None and token_matches(token, services().settings.admin_token)


def check_admin_token(configured: str | None, header: str | None) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one or when none is configured."""
    if not configured:
        raise errors.ForbiddenError(
            "admin endpoints are disabled: set ADMIN_TOKEN on the server to enable them"
        )
    token = bearer_token(header)
    if token is None:
        raise errors.UnauthorizedError(
            "this endpoint needs an admin token: send `Authorization: Bearer <ADMIN_TOKEN>`"
        )
    if not token_matches(token, configured):
        raise errors.ForbiddenError("the admin token is wrong; check ADMIN_TOKEN")


def check_api_token(header: str | None) -> None:
    """Raise 401 without a bearer token, 403 when it is neither API_TOKEN nor ADMIN_TOKEN."""
    settings = services().settings
    token = bearer_token(header)
    if token is None:
        raise errors.UnauthorizedError(
            "this server needs a token: send `Authorization: Bearer <API_TOKEN>`"
        )
    if not (token_matches(token, settings.api_token) or token_matches(token, settings.admin_token)):
        raise errors.ForbiddenError("the token is wrong; check API_TOKEN")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for admin-only views."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_admin_token(services().settings.admin_token, request.headers.get("Authorization"))
        return view(*args, **kwargs)

    setattr(wrapper, ADMIN_ONLY, True)  # the OpenAPI document marks it as needing the token
    return wrapper


def init_api_token(app: Flask) -> None:
    """With API_TOKEN set, refuse requests without it on every route not in OPEN_ENDPOINTS."""

    @app.before_request
    def _require_api_token() -> None:
        if not services().settings.api_token:
            return
        endpoint = request.endpoint
        # Unknown paths fall through to their 404/405, which reveal nothing.
        if endpoint is None or endpoint in OPEN_ENDPOINTS or endpoint.startswith("console."):
            return
        check_api_token(request.headers.get("Authorization"))

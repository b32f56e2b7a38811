"""Admin authentication: `Authorization: Bearer $ADMIN_TOKEN` on every admin endpoint."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import request

from api import errors
from api.openapi.declare import ADMIN_ONLY
from api.services import services


def check_admin_token(configured: str | None, header: str | None) -> None:
    """Raise 401 without a bearer token, 403 with a wrong one or when none is configured."""
    if not configured:
        raise errors.ForbiddenError(
            "admin endpoints are disabled: set ADMIN_TOKEN on the server to enable them"
        )
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise errors.UnauthorizedError(
            "this endpoint needs an admin token: send `Authorization: Bearer <ADMIN_TOKEN>`"
        )
    if not hmac.compare_digest(token.strip().encode(), configured.encode()):
        raise errors.ForbiddenError("the admin token is wrong; check ADMIN_TOKEN")


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for admin-only views."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_admin_token(services().settings.admin_token, request.headers.get("Authorization"))
        return view(*args, **kwargs)

    setattr(wrapper, ADMIN_ONLY, True)  # the OpenAPI document marks it as needing the token
    return wrapper

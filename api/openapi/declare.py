"""How a route declares itself for the OpenAPI document, /docs and /usage.

A view function carries an `Operation` (the `documented` decorator); the document and the usage
page walk `app.url_map`, so a path is documented exactly when the app serves it, with its path
parameters read from the rule. tests/api/test_openapi.py fails on a route without a declaration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from inference.schema import Feature

OPERATION = "openapi_operation"
ADMIN_ONLY = "admin_only"
# Served by the app but not part of the HTTP API: Flask's static files, Swagger UI's assets and
# the web console's HTML pages (GET /ui/ is one line of /usage).
NOT_API_ENDPOINTS = {"static", "docs.docs_asset"}
NOT_API_BLUEPRINTS = {"console"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
ARGUMENT = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>")

# What the document knows when it is built: the served default model and the server's limits.
Body = Callable[["Served"], dict[str, Any]]
# A query parameter, or a function of what is served that gives one (for real examples).
Query = dict[str, Any] | Callable[["Served"], dict[str, Any]]


@dataclass(frozen=True)
class Served:
    """The default model's name, version and one real row, and the limits the server enforces."""

    model: str | None
    version: int | None
    row: dict[str, Any]
    entity_id: Any
    max_rows: int
    max_body_bytes: int
    features: tuple[Feature, ...] = ()


@dataclass(frozen=True)
class Operation:
    """One method on one route: what it does, what it takes, what it answers."""

    summary: str
    responses: Mapping[str, Any]
    errors: tuple[int, ...] = ()
    query: tuple[Query, ...] = ()
    body: Body | None = None
    tag: str | None = None
    error_schema: str = "Error"


@dataclass(frozen=True)
class Route:
    """An Operation where the app serves it."""

    method: str
    rule: Rule
    operation: Operation
    admin: bool
    path_parameters: list[tuple[str, str]] = field(default_factory=list)

    @property
    def openapi_path(self) -> str:
        """`/models/{name}` for the rule `/models/<name>`."""
        return ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", self.rule.rule)

    @property
    def blueprint(self) -> str | None:
        """The blueprint the view belongs to (None for views on the app itself)."""
        return self.rule.endpoint.rpartition(".")[0] or None


def operation_id(method: str, rule: str) -> str:
    """The document's operationId for METHOD on a Flask rule: `get_jobs_job_id`."""
    return re.sub(r"\W+", "_", f"{method} {rule}").strip("_").lower()


def link(method: str, rule: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link from a response to another operation (what stateful tests follow);
    parameters are runtime expressions such as `$response.body#/id`."""
    return {"operationId": operation_id(method, rule), "parameters": parameters}


def documented(
    summary: str,
    *,
    responses: Mapping[str, Any],
    errors: tuple[int, ...] = (),
    query: tuple[Query, ...] = (),
    body: Body | None = None,
    tag: str | None = None,
    error_schema: str = "Error",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach an Operation to a view; put it under the `@bp.get(...)` lines."""
    operation = Operation(summary, responses, errors, query, body, tag, error_schema)

    def attach(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, OPERATION, operation)
        return view

    return attach


def api_routes(app: Flask) -> Iterator[Route]:
    """Every documented method of every route the app serves, in path order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        operation = getattr(view, OPERATION, None)
        if operation is None:
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            yield Route(
                method,
                rule,
                operation,
                getattr(view, ADMIN_ONLY, False),
                [(m.group(1) or "default", m.group(2)) for m in ARGUMENT.finditer(rule.rule)],
            )


def undeclared_rules(app: Flask) -> list[str]:
    """Routes of the HTTP API whose view has no Operation (there should be none)."""
    return [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in NOT_API_ENDPOINTS
        and rule.endpoint.partition(".")[0] not in NOT_API_BLUEPRINTS
        and getattr(app.view_functions[rule.endpoint], OPERATION, None) is None
    ]

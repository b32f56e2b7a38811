"""GET /usage: how to call the API, built from the routes' declarations and the served models.

Answered as plain text (what `curl localhost:8000/usage` shows: commands that paste as they
are), or as JSON for `Accept: application/json`. Both come from `build_usage`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, current_app, jsonify, request

from api.error_codes import error_codes
from api.errors import APIError
from api.examples import example_row, model_examples
from api.openapi.declare import api_routes
from api.openapi.document import TAGS
from api.public_url import public_base_url
from api.services import Services, services
from db import registry
from inference.model import LoadedModel

INPUT_FORMATS = {
    "columnar": '{"data": {"age": [39, 50], "workclass": ["State-gov", "Private"], ...}}',
    "split": '{"columns": ["age", ...], "data": [[39, ...], ...]}',
    "dataframe_split": '{"dataframe_split": {"columns": [...], "data": [[...]]}}',
    "records": '[{...}, {...}] or {"records": [...]} or {"dataframe_records": [...]}',
    "record": '{"age": 39, "workclass": "State-gov", ...}',
    "ids": '{"ids": [17, 42]}',
    "csv": "Content-Type: text/csv, a header row, then one line per row",
}
RESPONSE = (
    '{"model", "version", "predictions", "probabilities" (classifiers), "warnings" (if any), '
    '"ids" and "not_found" (id input)}'
)
CONSOLE = {"GET /ui/": "the web console (HTML; off with CONSOLE=false)"}
# Shell examples shown on the text page, in this order (the JSON holds every example).
SHOWN = ("record", "split", "query", "ids", "entity", "csv", "batch_job", "v2_infer")


def usage_response() -> Response:
    """GET /usage (and GET / without arguments): text, or JSON when the client asks for it."""
    svc = services()
    usage = build_usage(current_app, svc, public_base_url(request, svc.settings))
    if wants_json(request):
        return jsonify(usage)
    return Response(render_text(usage), mimetype="text/plain")


def wants_json(request: Request) -> bool:
    """True when the client prefers JSON to text (curl and browsers get text)."""
    offered = ["text/plain", "application/json"]
    return request.accept_mimetypes.best_match(offered, default="text/plain") == offered[1]


def build_usage(app: Flask, svc: Services, base: str) -> dict[str, Any]:
    """The usage document for this server."""
    base = base.rstrip("/")
    try:
        default = svc.default_model_name()
    except APIError:
        default = None
    with svc.sessions() as session:
        names = sorted(registry.production_versions(session), key=lambda n: (n != default, n))
    models = []
    for name in names:
        try:
            models.append(model_usage(svc, svc.model(name), base, name == default))
        except APIError as exc:
            models.append({"name": name, "unavailable": exc.message})
    return {
        "service": "skserve",
        "base_url": base,
        "default_model": default,
        "docs": {"interactive": f"{base}/docs", "openapi": f"{base}/openapi.json"},
        "admin": "[admin] endpoints need `Authorization: Bearer $ADMIN_TOKEN`",
        "endpoints": endpoints(app, svc),
        "input_formats": INPUT_FORMATS,
        "response": RESPONSE,
        "limits": {
            "max_rows_per_request": svc.settings.max_rows_per_request,
            "max_body_bytes": svc.settings.max_body_bytes,
            "larger_inputs": "POST /jobs (batch prediction jobs)",
        },
        "error_shape": '{"error_code": "...", "message": "...", "details": {...}}',
        "errors": [
            {"status": e.status, "error_code": e.code, "when": e.when} for e in error_codes()
        ],
        "models": models,
    }


def endpoints(app: Flask, svc: Services) -> dict[str, dict[str, str]]:
    """Every documented route by tag: "METHOD /path" -> what it does."""
    grouped: dict[str, dict[str, str]] = {}
    for route in api_routes(app):
        tag = route.operation.tag or TAGS.get(route.blueprint, route.blueprint)
        what = ("[admin] " if route.admin else "") + route.operation.summary
        grouped.setdefault(tag, {})[f"{route.method} {route.rule.rule}"] = what
    if svc.settings.console:
        grouped["Web console"] = CONSOLE
    order = list(TAGS.values())
    return dict(sorted(grouped.items(), key=lambda item: _rank(order, item[0])))


def _rank(order: list[str], tag: str) -> int:
    return order.index(tag) if tag in order else len(order)


def model_usage(svc: Services, model: LoadedModel, base: str, default: bool) -> dict[str, Any]:
    """Features and ready-to-paste examples for one model."""
    row, entity_id = example_row(svc, model)
    return {
        "name": model.name,
        "version": model.version,
        "default": default,
        "features": model.schema.to_dict()["features"],
        "classes": model.classes,
        "example_row": row,
        "example_entity_id": entity_id,
        "examples": model_examples(model.name, row, entity_id, base, default),
    }


def render_text(usage: dict[str, Any]) -> str:
    """The usage document as a page of text whose commands paste into a shell."""
    lines = [
        f"skserve at {usage['base_url']}: how to call this API",
        f"Interactive docs: {usage['docs']['interactive']}   OpenAPI: {usage['docs']['openapi']}",
        f"This page as JSON: curl -s -H 'Accept: application/json' {usage['base_url']}/usage",
        f"Default model: {usage['default_model'] or '(none)'}",
        "",
    ]
    for model in usage["models"]:
        lines += _model_text(model)
    lines += ["ENDPOINTS (" + usage["admin"] + ")"]
    for tag, routes in usage["endpoints"].items():
        lines.append(f"  {tag}")
        width = max(len(r) for r in routes)
        lines += [f"    {route.ljust(width)}  {what}" for route, what in routes.items()]
    lines += ["", "INPUT FORMATS (POST /models/<name>/predict)"]
    lines += [f"  {name:<16} {shape}" for name, shape in usage["input_formats"].items()]
    lines += ["", f"RESPONSE  {usage['response']}", "", "LIMITS"]
    lines += [f"  {name}: {value}" for name, value in usage["limits"].items()]
    lines += ["", f"ERRORS  every error is {usage['error_shape']}"]
    lines += [f"  {e['status']} {e['error_code']:<23} {e['when']}" for e in usage["errors"]]
    return "\n".join(lines) + "\n"


def _model_text(model: dict[str, Any]) -> list[str]:
    if "unavailable" in model:
        return [f"MODEL {model['name']}: unavailable ({model['unavailable']})", ""]
    default = " (default model)" if model["default"] else ""
    features = ", ".join(f"{f['name']} ({f['kind']})" for f in model["features"])
    lines = [f"MODEL {model['name']} v{model['version']}{default}", f"  features: {features}"]
    if model["classes"]:
        lines.append(f"  classes: {', '.join(map(str, model['classes']))}")
    examples = model["examples"]
    lines.append("  try:")
    lines += [f"    {examples[key]}" for key in SHOWN if key in examples]
    lines.append("  rows.csv for the csv example:")
    lines += [f"    {line}" for line in examples["rows.csv"].splitlines()]
    return [*lines, ""]

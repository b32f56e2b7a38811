"""The OpenAPI document and an interactive docs page served without internet."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Response, current_app, send_from_directory

from api.examples import served
from api.openapi.declare import documented
from api.openapi.document import build_openapi
from api.openapi.schemas import OK, content_response
from api.services import services

bp = Blueprint("docs", __name__)

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>skserve API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>window.onload = () => { window.ui = SwaggerUIBundle({url: "/openapi.json",
dom_id: "#swagger-ui", deepLinking: true}); };</script>
</body></html>"""


@bp.get("/openapi.json")
@documented("This OpenAPI document", responses=OK)
def openapi() -> dict[str, Any]:
    """The OpenAPI 3 document."""
    return build_openapi(current_app, served(services()), version("skserve"))


@bp.get("/docs")
@documented(
    "Swagger UI over this document (assets served locally)",
    responses={"200": content_response("HTML", "text/html")},
)
def docs() -> Response:
    """Swagger UI, its assets served by this app."""
    return Response(DOCS_PAGE, mimetype="text/html")


@bp.get("/docs/<path:filename>")
def docs_asset(filename: str) -> Response:
    """Swagger UI's bundled JavaScript and CSS (from the swagger-ui-bundle package)."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

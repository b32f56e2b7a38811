"""Real examples from what this server serves: a row, an entity id, ready-to-paste commands.

/usage and the OpenAPI document (hence /docs "Try it out") both take their examples from here.
"""

from __future__ import annotations

import json
import logging
import shlex
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.exc import SQLAlchemyError

from api.error_handlers import ANSWERABLE
from api.openapi.declare import Served
from api.openapi.schemas import csv_text
from api.protocols.docs import protocol_examples
from api.services import Services
from inference.model import LoadedModel

log = logging.getLogger(__name__)


def served(svc: Services) -> Served:
    """The default model (when it loads) with one real row, and the request limits.

    Without a servable default model (or with the database down) the document still answers,
    without examples.
    """
    limits = {
        "max_rows": svc.settings.max_rows_per_request,
        "max_body_bytes": svc.settings.max_body_bytes,
    }
    try:
        model = svc.model(svc.default_model_name())
    except (*ANSWERABLE, SQLAlchemyError):
        return Served(None, None, {}, None, **limits)
    row, entity_id = example_row(svc, model)
    features = model.schema.features
    return Served(model.name, model.version, row, entity_id, **limits, features=features)


def example_row(svc: Services, model: LoadedModel) -> tuple[dict[str, Any], Any]:
    """A real row: the first entity of the feature table, else a stored holdout sample row."""
    names = model.schema.names
    try:
        table = svc.entity_table(model)
        entity_id = svc.entities.first_id(table)
        if entity_id is not None:
            found = svc.entities.fetch(table, [entity_id])
            return {name: found.columns[name][0] for name in names}, entity_id
    except Exception as exc:  # examples are best effort; the sample row below still works
        log.debug("no example entity for %s: %s", model.name, exc)
    sample = model.artifact.metadata.sample
    if sample:
        return {name: sample[0].get(name) for name in names}, None
    return {f.name: _placeholder(f) for f in model.schema.features}, None


def _placeholder(feature: Any) -> Any:
    if feature.kind == "categorical":
        return feature.categories[0] if feature.categories else "value"
    return feature.minimum if feature.minimum is not None else 0


def model_examples(
    name: str, row: dict[str, Any], entity_id: Any, base: str, default: bool
) -> dict[str, str]:
    """Shell commands (and a Python snippet) that predict `row` with model `name`."""
    url = f"{base}/models/{name}/predict"
    post = f"curl -s -X POST {url} -H 'Content-Type: application/json' -d "
    split = {"columns": list(row), "data": [list(row.values())]}
    examples = {
        "split": post + shlex.quote(json.dumps(split)),
        "record": post + shlex.quote(json.dumps(row)),
        "query": "curl -s " + shlex.quote(f"{url}?{query_string(row)}"),
        "csv": f"curl -s -X POST {url} -H 'Content-Type: text/csv' --data-binary @rows.csv",
        "rows.csv": csv_text(row),
        "python": (
            "import requests\n\n"
            f"row = {row!r}\n"
            f'response = requests.post("{url}", json={{"records": [row]}}, timeout=10)\n'
            "print(response.json())"
        ),
    }
    if entity_id is not None:
        examples["ids"] = post + shlex.quote(json.dumps({"ids": [entity_id]}))
        examples["entity"] = f"curl -s {base}/models/{name}/entities/{entity_id}/prediction"
        job = {"model": name, "source": {"ids": [entity_id]}}
        examples["batch_job"] = (
            f"curl -s -X POST {base}/jobs -H 'Content-Type: application/json' -d "
            + shlex.quote(json.dumps(job))
        )
    examples.update(protocol_examples(name, row, base, default))
    if default:
        examples["seed_record"] = examples["record"].replace(url, f"{base}/predict")
        examples["seed_query"] = "curl -s " + shlex.quote(f"{base}/?{query_string(row)}")
    return examples


def query_string(row: dict[str, Any]) -> str:
    """The row as query arguments (None as an empty value)."""
    return urlencode({k: "" if v is None else v for k, v in row.items()})

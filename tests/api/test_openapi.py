"""One source for the API's description: every route is documented from its own declaration,
the examples work, and the error-code lists agree with the error classes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask

from api.error_codes import WHEN, error_codes, markdown_table, raised_codes, raised_pairs
from api.openapi.declare import NOT_API_BLUEPRINTS, NOT_API_ENDPOINTS, undeclared_rules

README = Path(__file__).resolve().parents[2] / "README.md"
JSON = {"Accept": "application/json"}
ARGUMENT = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def served_operations(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, /openapi/{path}) for every route of the HTTP API the app serves."""
    return {
        (method, ARGUMENT.sub(r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in NOT_API_ENDPOINTS
        and rule.endpoint.partition(".")[0] not in NOT_API_BLUEPRINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


@pytest.fixture(scope="module")
def document(app: Flask) -> dict:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_every_route_is_documented_and_every_documented_path_is_served(app, document):
    documented = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}
    assert undeclared_rules(app) == []
    assert documented == served_operations(app)
    assert len(documented) > 40


def test_a_route_without_a_declaration_is_caught(app):
    bare = Flask("bare")
    bare.add_url_rule("/x/<name>", "x", lambda name: name)
    assert undeclared_rules(bare) == ["/x/<name>"]
    assert undeclared_rules(app) == []


def test_operations_are_tagged_by_resource(document):
    tags = {op["tags"][0] for ops in document["paths"].values() for op in ops.values()}
    assert {"Predictions", "Registry", "Batch jobs", "Training", "Health"} <= tags
    assert document["paths"]["/jobs/{job_id}"]["delete"]["tags"] == ["Batch jobs"]
    promote = document["paths"]["/models/{name}/versions/{version}/promote"]["post"]
    assert promote["security"] == [{"bearer": []}] and "401" in promote["responses"]


def test_examples_are_the_served_model_and_a_real_row(document, api_settings, feature_rows):
    predict = document["paths"]["/models/{name}/predict"]["post"]
    name = next(p for p in predict["parameters"] if p["name"] == "name")
    assert name["example"] == "adult"
    content = predict["requestBody"]["content"]
    record = content["application/json"]["examples"]["record"]["value"]
    assert record["workclass"] == feature_rows.iloc[0]["workclass"]
    shapes = {s["title"]: s for s in content["application/json"]["schema"]["anyOf"]}
    assert (
        shapes["records"]["properties"]["records"]["maxItems"] == api_settings.max_rows_per_request
    )


def _example_requests(document: dict):
    """(method, url, kwargs) for each body example of each open operation, path examples filled."""
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            if "security" in op or method == "delete":
                continue
            params = {p["name"]: p.get("example") for p in op["parameters"] if p["in"] == "path"}
            if None in params.values():
                continue
            queries = [p for p in op["parameters"] if p["in"] == "query"]
            if any(p.get("required") and "example" not in p for p in queries):
                continue  # needs state no example can name (a canary's version to compare)
            url = path.format(**{k: quote(str(v)) for k, v in params.items()})
            content = op.get("requestBody", {}).get("content")
            if content is None:
                rows = [p["example"] for p in op["parameters"] if p.get("style") == "form"]
                yield method, url, {"query_string": rows[0] if rows else {}}
                continue
            for media_type, media in content.items():
                values = [e["value"] for e in media.get("examples", {}).values()]
                values += [media["example"]] if "example" in media else []
                for value in values:
                    if media_type == "application/json":
                        yield method, url, {"json": value}
                    else:
                        yield method, url, {"data": value, "content_type": media_type}


def test_every_example_in_the_document_is_accepted(client, document):
    tried = []
    prediction_log = client.application.extensions["skserve"].prediction_log
    for method, url, kwargs in _example_requests(document):
        # The drift example reads the log the earlier examples (/invocations first) wrote from
        # a background thread: write it out first, or the window may still be empty.
        prediction_log.drain()
        response = client.open(url, method=method.upper(), **kwargs)
        assert response.status_code < 300, (method, url, kwargs, response.data[:500])
        tried.append((method, url))
    assert ("post", "/models/adult/predict") in tried and ("post", "/jobs") in tried
    assert ("post", "/v2/models/adult/infer") in tried and ("post", "/invocations") in tried


def test_each_error_code_has_one_status_and_a_description():
    pairs = raised_pairs()
    assert len({code for code, _ in pairs}) == len(pairs), sorted(pairs)
    assert set(WHEN) == set(raised_codes())


def test_the_documents_error_codes_are_the_raised_ones(client, document):
    enum = document["components"]["schemas"]["Error"]["properties"]["error_code"]["enum"]
    assert set(enum) == set(raised_codes())
    listed = client.get("/usage", headers=JSON).get_json()["errors"]
    assert [(e["status"], e["error_code"]) for e in listed] == [
        (e.status, e.code) for e in error_codes()
    ]
    for status, response in document["components"]["responses"].items():
        code = int(status.removeprefix("V2Error").removeprefix("Error"))
        assert response["description"] == ", ".join(
            e.code for e in error_codes() if e.status == code
        )


def test_the_readme_error_table_is_generated():
    text = README.read_text()
    table = text[text.index("| status | `error_code` | when |") :].split("\n\n")[0]
    assert table == markdown_table(), "paste `python -m api.error_codes` into README.md"


def test_usage_is_text_listing_every_endpoint(client, app):
    page = client.get("/usage")
    assert page.mimetype == "text/plain"
    text = page.get_data(as_text=True)
    for method, path in served_operations(app):
        rule = re.sub(r"{([a-z_]+)}", lambda m: f"<{m.group(1)}>", path)
        assert re.search(rf"\b{method} {re.escape(rule)}\s", text), (method, rule)
    assert '\\"' not in text
    assert client.get("/usage", headers={"Accept": "*/*"}).mimetype == "text/plain"
    assert client.get("/usage", headers=JSON).mimetype == "application/json"


def test_usage_commands_are_shell_words_with_raw_json(client):
    text = client.get("/usage").get_data(as_text=True)
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("curl ")]
    assert len(commands) >= 8
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "curl"
        if "-d" in words:
            assert words[words.index("-d") + 1].startswith("{")


def test_links_lead_to_documented_operations(document):
    operation_ids = {op["operationId"] for ops in document["paths"].values() for op in ops.values()}
    links = [
        link
        for ops in document["paths"].values()
        for op in ops.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 4
    assert {link["operationId"] for link in links} <= operation_ids

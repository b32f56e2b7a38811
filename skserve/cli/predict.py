"""`skserve predict`: a small client for a running API."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import click

DEFAULT_URL = "http://127.0.0.1:8000"


@click.command()
@click.argument("name")
@click.option("--json", "json_body", help="A JSON body in any accepted shape; @FILE reads a file.")
@click.option("--ids", help="Comma-separated entity ids, read from the model's feature table.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    help="A CSV file with a header row (- for stdin).",
)
@click.option("--model-version", type=click.IntRange(min=1), help="Pin a version.")
@click.option(
    "--url", envvar="SKSERVE_URL", default=DEFAULT_URL, show_default=True, help="API base URL."
)
@click.option(
    "--token",
    envvar="API_TOKEN",
    help="Sent as `Authorization: Bearer ...` (default: $API_TOKEN), for servers that set one.",
)
def predict(
    name: str,
    json_body: str | None,
    ids: str | None,
    csv_path: str | None,
    model_version: int | None,
    url: str,
    token: str | None,
) -> None:
    """Ask the API at --url (or SKSERVE_URL) for predictions of model NAME."""
    given = [option for option in (json_body, ids, csv_path) if option is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --json, --ids or --csv")
    if json_body is not None:
        body, content_type = read_json_option(json_body), "application/json"
    elif ids is not None:
        body, content_type = json.dumps({"ids": parse_ids(ids)}).encode(), "application/json"
    else:
        stream = sys.stdin.buffer if csv_path == "-" else Path(csv_path).open("rb")
        with stream:
            body, content_type = stream.read(), "text/csv"
    query = f"?{urlencode({'version': model_version})}" if model_version else ""
    endpoint = f"{url.rstrip('/')}/models/{quote(name, safe='')}/predict{query}"
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    click.echo(json.dumps(post(endpoint, body, headers), indent=2))


def read_json_option(value: str) -> bytes:
    """The --json value, or the file it names with a leading @; checked to be JSON."""
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            message = f"cannot read {value[1:]}: {exc.strerror}; give @PATH of an existing file"
            raise click.BadParameter(message, param_hint="--json") from None
    else:
        text = value
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--json") from None
    return text.encode()


def parse_ids(value: str) -> list[int | str]:
    """ "1, 2,x" -> [1, 2, "x"]: integers where they look like integers (the API checks them)."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise click.BadParameter("no ids given", param_hint="--ids")
    return [int(item) if item.lstrip("+-").isdigit() else item for item in items]


def post(endpoint: str, body: bytes, headers: dict[str, str]) -> dict:
    """POST the body; an API error becomes a CLI error carrying its code and details."""
    request = urllib.request.Request(endpoint, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(describe_error(exc.code, exc.read())) from None
    except urllib.error.URLError as exc:
        raise click.ClickException(
            f"cannot reach {endpoint}: {exc.reason}. Start the API with `skserve api` or "
            "point --url / SKSERVE_URL at it"
        ) from None


def describe_error(status: int, raw: bytes) -> str:
    """`HTTP 422 INVALID_INPUT: message` plus the details, from an error response."""
    try:
        error = json.loads(raw)
        text = f"HTTP {status} {error['error_code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {raw[:500].decode(errors='replace')}"
    if error.get("details"):
        text += "\n" + json.dumps(error["details"], indent=2)
    return text

"""Refuse what is not valid text, and path parameters outside their characters, at the edge.

Everything a client sends reaches the core, the logs and PostgreSQL only as valid UTF-8 text
without NUL (PostgreSQL cannot store NUL; a lone surrogate cannot be encoded at all).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import Flask, request

from api import errors
from db.registry import MODEL_NAME_PATTERN, MODEL_NAME_RULE
from inference.json_values import shown

JOB_ID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PATH_PARAMETERS: dict[str, tuple[re.Pattern[str], str]] = {
    "name": (re.compile(MODEL_NAME_PATTERN), f"model names are {MODEL_NAME_RULE}"),
    "job_id": (re.compile(JOB_ID_PATTERN), "job ids are lower-case UUIDs as POST /jobs returns"),
}
NOUNS = {"name": "model name", "job_id": "job id"}
# A JSON escape that decodes to NUL or to half of a surrogate pair.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def text_problem(text: str) -> str | None:
    """Why `text` is not valid text (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return "holds a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "holds a lone surrogate (half of a UTF-16 pair)"
    return None


def check_text_value(text: str, where: str) -> str:
    """Return `text`, or raise 400 INVALID_PARAMETER naming where it came from."""
    problem = text_problem(text)
    if problem:
        raise errors.InvalidParameterError(
            f"{where} {problem}; send valid UTF-8 text", {"where": where}
        )
    return text


def _check_bytes(raw: bytes, where: str) -> None:
    try:
        check_text_value(raw.decode("utf-8"), where)
    except UnicodeDecodeError:
        raise errors.InvalidParameterError(
            f"{where} is not valid UTF-8 (percent-encode UTF-8 bytes only)", {"where": where}
        ) from None


def _latin1(text: str) -> bytes:
    """WSGI strings carry the request's bytes as latin-1 characters."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def check_url() -> None:
    """The path and the query string must be valid UTF-8 text without NUL."""
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")  # as sent, still %-encoded
    if target:
        _check_bytes(unquote_to_bytes(_latin1(target.partition("?")[0])), "the URL path")
    _check_bytes(_latin1(environ.get("PATH_INFO", "")), "the URL path")
    _check_bytes(unquote_to_bytes(request.query_string), "the query string")


def check_path_parameters(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The URL is valid text, and model names and job ids match their patterns, before any
    query uses them (url_value_preprocessors run first, unrouted requests included)."""
    check_url()
    for key, value in (values or {}).items():
        rule = PATH_PARAMETERS.get(key)
        if rule is not None and not rule[0].fullmatch(str(value)):
            raise errors.InvalidParameterError(
                f"{shown(value)} is not a valid {NOUNS[key]}: {rule[1]}",
                {"parameter": key},
            )


def check_json_strings(raw: bytes, payload: Any) -> None:
    """Raise INVALID_JSON when a string or key of a parsed body holds NUL or a lone surrogate.

    The walk only runs when the raw bytes hold an escape that could produce one (raw NUL and
    invalid UTF-8 are already refused by the parser), so ordinary bodies cost one regex scan.
    """
    if not _SUSPECT_ESCAPE.search(raw):
        return
    stack: list[tuple[Any, str]] = [(payload, "$")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            _json_text(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                _json_text(key, f"a key of {where}")
                stack.append((item, f"{where}.{shown(key)[1:-1]}"))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))


def _json_text(text: str, where: str) -> None:
    problem = text_problem(text)
    if problem:
        raise errors.InvalidJSONError(
            f"the string at {where} {problem}; send valid UTF-8 text", {"where": where}
        )


def form_value(name: str) -> str | None:
    """A multipart/form field, refused unless it is valid text."""
    value = request.form.get(name)
    if value is not None:
        check_text_value(value, f"the form field {name!r}")
    return value


def init_request_checks(app: Flask) -> None:
    """Check every request's URL, then the path parameters of the matched route."""
    app.url_value_preprocessor(check_path_parameters)

"""Property-based requests generated from our own OpenAPI document: no 5xx, ever."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 20


def test_no_generated_request_gets_a_server_error(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case):
            case.call_and_validate(checks=[not_a_server_error])

        try:
            call()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)

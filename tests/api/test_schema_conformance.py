"""Schemathesis against the OpenAPI schema: generated requests (valid and invalid) never get a 500, and every
response matches the documented status codes, content types and schemas. Bounded so it stays in CI's budget.

Schema-valid requests may still be refused for reasons a schema cannot say (a market the catalogue does not
hold, a chat without a user message), so the "positive data acceptance" check is left out.

(The schemathesis pytest plugin does not run on this pytest; its Python API drives hypothesis directly.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# JSONL bodies (POST /v1/knowledge/documents/import, a string in the schema) go on the wire as the text they are.
schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl", "application/x-jsonlines"], "text/plain")
EXAMPLES_PER_OPERATION = 12


def test_every_operation_conforms_to_the_schema(fresh_api: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fresh_api.client.app)
    headers = fresh_api.headers("admin")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            conforms()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's first failure, reported together
            failures[operation.label] = str(exc)[:1500]
    assert not failures, "\n\n".join(f"{label}:\n{problem}" for label, problem in failures.items())

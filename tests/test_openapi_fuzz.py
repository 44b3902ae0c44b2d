"""Property-based fuzzing of every service's OpenAPI (schemathesis + hypothesis): a bounded number
of generated requests per operation, against real uvicorn servers, sent with a valid admin principal.
Fails on any 5xx and on any response its operation does not document (status, content type, body
schema). It covers new routes by itself as they are added."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from services.common.auth import principal_headers

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 8


@pytest.mark.parametrize("service", ["registry", "finance", "standards"])
def test_every_operation_survives_generated_requests(live_services, service):
    schema = schemathesis.openapi.from_url(live_services[service].url + "/openapi.json")
    schema.config.base_url = live_services[service].url
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            case.call_and_validate(
                base_url=live_services[service].url,
                headers=principal_headers("admin", sub="fuzzer"),
                checks=CHECKS,
                timeout=30,
            )

        try:
            run()
        except (Exception, BaseExceptionGroup) as e:  # collect every operation's failure, not just the first
            failures.append(f"{operation.label}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)

"""Fuzz the gateway's own operations (clients, profile, progress, health) as the services are
fuzzed in tests/test_openapi_fuzz.py: generated requests with an admin key must never give a 5xx
or a response the merged OpenAPI does not document."""

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.gateway.conftest import bearer
from tests.test_openapi_fuzz import CHECKS, MAX_EXAMPLES

SERVICE_PREFIXES = ("/registry/", "/finance/", "/standards/")


async def test_gateway_operations_survive_generated_requests(gateway_live, new_client):
    _, key = await new_client("admin", rate=10_000)
    schema = schemathesis.openapi.from_url(gateway_live.url + "/openapi.json")
    operations = [
        op for op in (r.ok() for r in schema.get_all_operations()) if not op.path.startswith(SERVICE_PREFIXES)
    ]
    assert any(op.path == "/v1/progress" for op in operations)
    failures = []
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
            case.call_and_validate(base_url=gateway_live.url, headers=bearer(key), checks=CHECKS, timeout=30)

        try:
            run()
        except (Exception, BaseExceptionGroup) as e:
            failures.append(f"{operation.label}: {str(e)[:1500]}")
    assert not failures, "\n\n".join(failures)

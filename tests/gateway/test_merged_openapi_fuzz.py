"""Fuzz the whole front door: every operation of the gateway's merged OpenAPI (its own and every
service's, through the proxy), once per caller — an admin, a bank and a certifier API key — over
the demo data set, so requests meet real enterprises, loans, certificates and standards.

Every answer must be a documented one: never a 5xx, never a status, content type or body its
operation does not declare — the gateway's own 401, 403 and 429 included. Per operation and caller:

- generated requests that fit its schema (positive) and a few that do not (negative);
- positive requests whose path parameters name real rows (so the code behind the lookup runs);
- a NUL character in each path and query parameter, and in each string of a positive body, one
  at a time (text that PostgreSQL refuses must be refused before it gets there);
- for every list, the real cursors of every list (its own and the others'), harvested by an admin.

The run is deterministic (derandomized, no example database) and time-boxed: a run that outgrows
its box fails rather than silently fuzzing less."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from services.finance import seed as finance_seed
from services.registry import seed as registry_seed
from services.standards import seed as standards_seed
from tests.gateway.conftest import bearer
from tests.test_openapi_fuzz import CHECKS

# Generated requests per operation and caller, by kind.
EXAMPLES = {"positive": 6, "negative": 3, "real rows": 3, "NUL in body": 3}
# One caller's whole run must end within this; each request within its timeout (a hang fails).
TIME_BOX_S = 200
REQUEST_TIMEOUT_S = 15
NUL = "\x00"
MAX_NUL_VARIANTS = 16
BANK = finance_seed.BANKS[0][0]
CERTIFIER = standards_seed.BODIES[0][0]
# The outside world's callers, with organisations of the demo data (their loans, their certificates).
CALLERS = {
    "admin": {"kind": "admin"},
    "bank": {"kind": "bank", "org": BANK},
    "certifier": {"kind": "certifier", "org": CERTIFIER},
}


@pytest.fixture
async def demo_data(db) -> dict[str, str]:
    """The demo seed of the three services (registry first: the others read its directory), and
    real values for path parameters: `{name}` or `{path prefix}{name}` → value."""
    for module in (registry_seed, finance_seed, standards_seed):
        async with db.transaction():
            await module.seed_demo(db)
    titled = await db.fetchrow("SELECT credit_code, id FROM registry.titles ORDER BY id LIMIT 1")
    loan = await db.fetchval(
        "SELECT loan_ref FROM finance.loans WHERE lender = $1 ORDER BY loan_ref LIMIT 1", BANK
    )
    certificate = await db.fetchval(
        "SELECT certificate_no FROM standards.certificates WHERE certifier = $1 ORDER BY 1 LIMIT 1", CERTIFIER
    )
    values = {
        "credit_code": titled["credit_code"],
        "title_id": str(titled["id"]),
        "park_id": str(await db.fetchval("SELECT min(id) FROM registry.parks")),
        "year": "2022",
        "lender": BANK,
        "loan_ref": loan,
        "certificate_no": certificate,
        "/registry/v1/regions/code": "330106",
        "/registry/v1/tools/credit-code/code": titled["credit_code"],
        "/standards/v1/standards/code": await db.fetchval("SELECT min(code) FROM standards.standards"),
    }
    assert all(values.values())
    return values


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_every_merged_operation_answers_generated_requests_as_documented(
    gateway_live, new_client, demo_data, caller
):
    _, key = await new_client(name=f"fuzz {caller}", rate=100_000, **CALLERS[caller])
    _, admin_key = await new_client("admin", name="fuzz cursor harvest", rate=100_000)
    schema = schemathesis.openapi.from_url(gateway_live.url + "/openapi.json")
    assert "x-eaglet-missing-services" not in schema.raw_schema["info"]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path.split("/")[1] for op in operations} >= {"registry", "finance", "standards", "v1"}
    lists = [op for op in operations if is_list(schema, op)]
    cursors = harvest_cursors(lists, gateway_live.url, bearer(admin_key))
    assert len(lists) >= 10 and len(cursors) >= len(lists) // 2

    session = requests.Session()
    session.headers.update(bearer(key))
    deadline = time.monotonic() + TIME_BOX_S
    failures: list[str] = []

    def call(case) -> None:
        case.call_and_validate(
            base_url=gateway_live.url, session=session, checks=CHECKS, timeout=REQUEST_TIMEOUT_S
        )

    def attempt(label: str, run: Callable[[], None]) -> None:
        assert time.monotonic() < deadline, (
            f"time box of {TIME_BOX_S} s exceeded before {label}; failures so far:\n\n"
            + "\n\n".join(failures)
        )
        try:
            run()
        except (Exception, BaseExceptionGroup) as e:  # every failure, not just the first
            failures.append(f"{label}: {str(e)[:2000]}")

    for operation in lists:
        attempt(
            f"{operation.label} [{caller}, the cursors of every list]",
            lambda op=operation: each_cursor(op, cursors, call),
        )
    for operation in operations:
        real = real_path_parameters(operation, demo_data)
        for kind, strategy, variants in strategies(operation, real):
            attempt(f"{operation.label} [{caller}, {kind}]", fuzz(strategy, kind, variants, call))
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)


def each_cursor(operation, cursors: dict[str, str], call) -> None:
    """The list called with each list's cursor; the failures name the lists they came from."""
    failed = {}
    for source, cursor in cursors.items():
        try:
            call(operation.Case(query={"cursor": cursor}))
        except (Exception, BaseExceptionGroup) as e:
            failed[source] = e
    if failed:
        first = next(iter(failed.values()))
        raise AssertionError(f"cursors of {', '.join(failed)}: {first}") from first


def strategies(operation, real: dict[str, str]) -> Iterator[tuple[str, st.SearchStrategy, Callable]]:
    """Every kind of generated request for one operation (see the module docstring): a name, the
    strategy, and what to send for each case drawn."""
    yield "positive", operation.as_strategy(generation_mode=GenerationMode.POSITIVE), alone
    yield "negative", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), alone
    if real:
        yield "real rows", operation.as_strategy(path_parameters=real), alone
    for parameter in operation.path_parameters:
        fixed = {**real, parameter.name: NUL}
        yield f"NUL in path {parameter.name}", operation.as_strategy(path_parameters=fixed), alone
    for parameter in operation.query:
        fixed = {parameter.name: NUL}
        yield (
            f"NUL in query {parameter.name}",
            operation.as_strategy(path_parameters=real, query=fixed),
            alone,
        )
    if operation.body:
        yield "NUL in body", operation.as_strategy(path_parameters=real), with_nul_in_each_string


def fuzz(strategy, kind: str, variants: Callable, call: Callable) -> Callable[[], None]:
    """Hypothesis over `strategy`, deterministic: each case drawn is sent as its variants."""

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES.get(kind, 1),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case):
        for variant in variants(case):
            call(variant)

    def go() -> None:
        try:
            run()
        except Unsatisfiable:
            assert kind == "negative"  # nothing to get wrong: no parameters, no body

    return go


def alone(case) -> list:
    return [case]


def with_nul_in_each_string(case) -> list:
    """The case once per string of its body (a value or a key), that string holding a NUL (at
    most `MAX_NUL_VARIANTS`, spread over the body)."""
    pointers = list(string_pointers(case.body))
    pointers = pointers[:: max(1, len(pointers) // MAX_NUL_VARIANTS)][:MAX_NUL_VARIANTS]
    bodies = [replaced(case.body, pointer) for pointer in pointers]
    if isinstance(case.body, dict):  # and each field alone, in case another one is refused first
        bodies += [{k: v + NUL} for k, v in case.body.items() if isinstance(v, str)]
    return [
        case.operation.Case(
            path_parameters=case.path_parameters,
            query=case.query,
            headers=case.headers,
            body=body,
            media_type=case.media_type,
        )
        for body in bodies
    ]


def string_pointers(node: Any, at: tuple = ()) -> Iterator[tuple]:
    if isinstance(node, str):
        yield at
    elif isinstance(node, dict):
        for k, v in node.items():
            yield (*at, ("key", k))
            yield from string_pointers(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from string_pointers(v, (*at, i))


def replaced(node: Any, pointer: tuple) -> Any:
    """`node` with the string at `pointer` given a NUL (a copy; `node` is left as it was)."""
    if not pointer:
        return node + NUL
    head, *rest = pointer
    if isinstance(head, tuple):  # a key: ("key", name)
        return {(k + NUL if k == head[1] else k): v for k, v in node.items()}
    copy = list(node) if isinstance(node, list) else dict(node)
    copy[head] = replaced(node[head], tuple(rest))
    return copy


def real_path_parameters(operation, values: dict[str, str]) -> dict[str, str]:
    """Real rows for the operation's path parameters it has values for."""
    prefix = operation.path.split("{")[0]
    out = {}
    for name in re.findall(r"{(\w+)}", operation.path):
        value = values.get(prefix + name, values.get(name))
        if value is not None:
            out[name] = value
    return out


def is_list(schema, operation) -> bool:
    """A keyset-paginated list without path parameters (`?cursor=`)."""
    definition = schema.raw_schema["paths"][operation.path][operation.method.lower()]
    return (
        operation.method.upper() == "GET"
        and "{" not in operation.path
        and any(p["in"] == "query" and p["name"] == "cursor" for p in definition.get("parameters", []))
    )


def harvest_cursors(lists, base_url: str, headers: dict[str, str]) -> dict[str, str]:
    """Each list's first-page `next_cursor` (a list holding at most one row has none)."""
    cursors = {}
    for operation in lists:
        response = operation.Case(query={"limit": 1}).call(base_url=base_url, headers=headers, timeout=15)
        assert response.status_code == 200, (operation.label, response.text)
        if cursor := response.json().get("next_cursor"):
            cursors[operation.label] = cursor
    return cursors

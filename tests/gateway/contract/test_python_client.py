"""A bank developer's view of the contract: openapi-python-client generates every operation of the
merged document without a warning, and the generated package works against the live gateway:
typed pages, a loan batch, and problems read as `ProblemDetail` objects."""

import importlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.finance.helpers import loan
from tests.registry_data import add_enterprise

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def warnings(output: str) -> str:
    """The generator's complaints, one line each with how often (its output repeats them)."""
    said = re.findall(r"^(?:WARNING|Unable|Cannot|Attempted|Could not|Invalid)[^\n]*", output, re.MULTILINE)
    said = [re.sub(r"<openapi_python_client[^>]*>", "…", line) for line in said]
    return "\n".join(f"{n:4d} × {line}" for line, n in Counter(said).most_common()) or output


def test_every_operation_is_generated_without_a_warning(python_client, merged_openapi):
    assert python_client.returncode == 0, warnings(python_client.output)
    assert "warning" not in python_client.output.lower(), warnings(python_client.output)
    operations = {
        op["operationId"]
        for item in merged_openapi["paths"].values()
        for method, op in item.items()
        if method in METHODS
    }
    modules = {f.stem for f in (python_client.package / "api").glob("*/*.py") if f.stem != "__init__"}
    assert len(operations) > 90  # every service's part is in the document
    assert sorted(operations - modules) == [] and len(modules) == len(operations)


@pytest.fixture(scope="module")
def eaglet_client(python_client):
    """The generated package, imported from the folder it was generated into."""
    sys.path.insert(0, str(python_client.folder))
    try:
        yield importlib.import_module(python_client.package.name)
    finally:
        sys.path.remove(str(python_client.folder))


def api(package, operation: str):
    """The module of one operation (`<package>.api.<tag>.<operation id>`), whatever its tag."""
    (module,) = (Path(package.__file__).parent / "api").glob(f"*/{operation}.py")
    return importlib.import_module(f"{package.__name__}.api.{module.parent.name}.{operation}")


async def test_the_generated_client_against_the_gateway(eaglet_client, gateway_live, db, new_client):
    models = importlib.import_module(f"{eaglet_client.__name__}.models")
    code = await add_enterprise(db, region_code="330106", name="杭州客户端测试有限公司")
    _, official_key = await new_client("official", region="330100")
    _, bank_key = await new_client("bank", org="B-PY")
    official = eaglet_client.AuthenticatedClient(base_url=gateway_live.url, token=official_key)
    bank = eaglet_client.AuthenticatedClient(base_url=gateway_live.url, token=bank_key)
    async with official, bank:
        listed = await api(eaglet_client, "registry_list_enterprises").asyncio_detailed(
            client=official, region="330106"
        )
        assert listed.status_code == 200
        assert isinstance(listed.parsed, models.RegistryPageEnterpriseOut)
        assert [(e.credit_code, e.name) for e in listed.parsed.items] == [(code, "杭州客户端测试有限公司")]

        post_loans = api(eaglet_client, "finance_post_loans_batch")
        record = models.FinanceLoanIn.from_dict(
            loan(borrower=code, amount="800000.00", outstanding_balance="800000.00")
        )
        assert (record.amount, record.status) == ("800000.00", models.FinanceLoanInStatus.OUTSTANDING)
        # A closed record model: no `additional_properties` for a misspelt field to hide in.
        assert not hasattr(record, "additional_properties")
        with pytest.raises(TypeError, match="amout"):
            models.FinanceLoanIn(**{**record.to_dict(), "amout": "800000.00"})
        body = models.FinanceLoanBatchRequest(records=[record])
        posted = await post_loans.asyncio_detailed(client=bank, body=body, idempotency_key="py-client-1")
        assert posted.status_code == 200, posted.content
        assert posted.parsed.committed is True
        assert posted.parsed.summary.created == 1
        assert [r.status.value for r in posted.parsed.results] == ["created"]
        again = await post_loans.asyncio_detailed(client=bank, body=body, idempotency_key="py-client-1")
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.parsed == posted.parsed

        # Problems are typed objects, told apart by their code.
        wrong = await api(eaglet_client, "registry_get_enterprise").asyncio_detailed(
            "91330000733796106X", client=official
        )
        assert wrong.status_code == 422
        assert isinstance(wrong.parsed, models.ProblemDetail), wrong.content
        assert (wrong.parsed.status, wrong.parsed.code) == (422, "credit_code_check")
        empty = await post_loans.asyncio_detailed(
            client=bank, body=models.FinanceLoanBatchRequest(records=[])
        )
        assert empty.status_code == 422
        assert isinstance(empty.parsed, models.ProblemDetail), empty.content
        assert empty.parsed.code == "validation_failed"
        assert [(e.pointer, type(e).__name__) for e in empty.parsed.errors] == [
            ("/records", "FieldProblem")
        ], json.loads(empty.content)

"""A front-end's view of the contract: the TypeScript types openapi-typescript generates from the
merged document, used with openapi-fetch in `ts/usage.ts`, compile under `tsc --strict`; a loan
with a misspelt field (`ts/misspelt.ts`) does not; and the compiled usage file works against the
live gateway."""

import asyncio
import json
import os
import re
import subprocess

import pytest

from tests.registry_data import add_enterprise

# tsc's exit code when it found errors and so emitted nothing (TypeScript's ExitStatus).
TSC_ERRORS_NO_OUTPUT = 2


def tsc(project, config: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [project / "node_modules" / ".bin" / "tsc", "--project", config, "--strict", "--pretty", "false"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="session")
def compiled_usage(ts_project):
    return tsc(ts_project, "tsconfig.json")


def test_the_usage_file_compiles_under_strict(compiled_usage, ts_project):
    assert compiled_usage.returncode == 0, compiled_usage.stdout + compiled_usage.stderr
    assert (ts_project / "out" / "usage.js").exists()


def test_a_misspelt_loan_field_does_not_compile(ts_project):
    out = tsc(ts_project, "tsconfig.misspelt.json")
    assert out.returncode == TSC_ERRORS_NO_OUTPUT, out.stdout + out.stderr
    errors = [line for line in out.stdout.splitlines() if re.match(r"^\S+\.ts\(\d+,\d+\): error TS", line)]
    assert errors, out.stdout
    # Every error is the misspelt field, in the misspelt file (not a type the usage got wrong).
    assert all(line.startswith("misspelt.ts(") for line in errors), errors
    assert any("'amout'" in line for line in errors), errors


async def test_the_compiled_usage_file_works_against_the_gateway(
    compiled_usage, ts_project, gateway_live, db, new_client
):
    assert compiled_usage.returncode == 0, compiled_usage.stdout
    code = await add_enterprise(db, region_code="330106", name="杭州前端测试有限公司")
    _, official = await new_client("official", region="330100")
    _, bank = await new_client("bank", org="B-TS")
    env = {
        **os.environ,
        **{"EAGLET_URL": gateway_live.url, "EAGLET_BORROWER": code},
        **{"EAGLET_OFFICIAL_KEY": official, "EAGLET_BANK_KEY": bank},
    }
    run = await asyncio.to_thread(
        subprocess.run,
        ["node", "out/usage.js"],
        cwd=ts_project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    seen = json.loads(run.stdout)
    assert f"{code} 杭州前端测试有限公司" in seen["names"]
    assert seen["batch"] == {"created": 1, "committed": True, "rejected": 0, "replayed": False}
    assert seen["retried"] == {**seen["batch"], "replayed": True}
    # A wrong check character: the problem told apart by its code.
    assert seen["problem"].startswith("invalid credit code (credit_code_check): "), seen["problem"]

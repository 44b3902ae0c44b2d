"""HTTP hygiene at every service (the kit: services/common/head.py, errors.py): HEAD wherever GET
is, a 405 names every method of the path, a body that is not well-formed JSON is a 400 whose
pointer is the document (`""`) with the line and column, and a body sent as another media type
than JSON is a 415."""

import json

import pytest
from fastapi.routing import iter_route_contexts

from tests.registry_data import add_enterprise
from tests.support import SERVICE_FACTORIES


def _plain_gets(app):
    return [
        r.path
        for r in iter_route_contexts(app.routes)
        if r.methods and "GET" in r.methods and "{" not in r.path and r.path not in ("/metrics",)
    ]


@pytest.mark.parametrize("name", sorted(SERVICE_FACTORIES))
async def test_head_answers_what_get_answers_without_a_body(name, apps, client_for, as_):
    c = client_for(name)
    paths = _plain_gets(apps[name])
    assert "/healthz" in paths and len(paths) > 3
    for path in paths:
        get = await c.get(path, headers=as_())
        head = await c.head(path, headers=as_())
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        for h in ("content-type", "content-length", "etag"):
            assert head.headers.get(h) == get.headers.get(h), (path, h)


async def test_head_of_a_detail_and_of_an_export(client_for, as_, db):
    c = client_for("registry")
    code = await add_enterprise(db, region_code="330106")
    get = await c.get(f"/v1/enterprises/{code}", headers=as_())
    head = await c.head(f"/v1/enterprises/{code}", headers=as_())
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == get.headers["content-length"]
    missing = await c.head("/v1/enterprises/91330000733796106P", headers=as_())
    assert missing.status_code == 404 and missing.content == b""
    # an export's HEAD sends the headers and gives its connection back at once
    for _ in range(5):  # more than EAGLET_EXPORT__PER_CALLER: a leaked export would be a 429
        head = await c.head("/v1/enterprises/export", params={"format": "csv"}, headers=as_())
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"].startswith("text/csv")
    assert (await c.get("/v1/enterprises/export", headers=as_())).status_code == 200


async def test_405_names_every_method_of_the_path(client_for, as_):
    c = client_for("registry")
    r = await c.delete("/v1/enterprises/91330000733796106P", headers=as_())
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    assert r.headers["allow"] == "GET, HEAD, PATCH"
    assert r.headers["content-type"] == "application/problem+json"
    r = await c.put("/v1/enterprises", headers=as_())
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD, POST"
    r = await c.request("HEAD", "/v1/enterprises/batch", headers=as_())
    assert r.status_code in (404, 405, 422)  # routed as GET /v1/enterprises/{credit_code}
    r = await client_for("finance").get("/v1/guarantees/batch", headers=as_())
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["detail"] == "GET is not allowed on /v1/guarantees/batch"
    r = await client_for("finance").head("/v1/guarantees/batch", headers=as_())
    assert r.status_code == 405 and r.headers["allow"] == "POST"


BAD_JSON = [
    (b'{"name": "x",\n  "region_code": }', 2, 18, "Expecting value"),
    (b"{", 1, 2, "Expecting property name enclosed in double quotes"),
    (b'{"a": 1} trailing', 1, 10, "Extra data"),
    (b'["\x01"]', 1, 3, "Invalid control character at"),
    ('{\n\n  "名称": 杭州}'.encode(), 3, 9, "Expecting value"),
]


@pytest.mark.parametrize(("body", "line", "column", "reason"), BAD_JSON)
async def test_malformed_json_is_a_400_at_the_document(client_for, as_, body, line, column, reason):
    with pytest.raises(json.JSONDecodeError) as python:  # the line and column Python's json reports
        json.loads(body)
    assert (python.value.lineno, python.value.colno, python.value.msg) == (line, column, reason)
    r = await client_for("registry").post(
        "/v1/enterprises", content=body, headers={**as_(), "Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["code"] == "malformed_json"
    assert problem["errors"] == [
        {"pointer": "", "code": "malformed_json", "message": f"line {line} column {column}: {reason}"}
    ]
    assert f"line {line} column {column}" in problem["detail"]


async def test_a_body_that_is_not_json_is_a_415(client_for, as_):
    c = client_for("finance")
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        None,
        "application/json-seq",
        "text/json",
        "multipart/form-data; boundary=x",
        "\x7f/\x01",
    ):
        headers = {**as_("bank", org="B001")}
        if content_type is not None:
            headers["Content-Type"] = content_type
        r = await c.post("/v1/loans/batch", content=b'{"records": []}', headers=headers)
        assert r.status_code == 415, (content_type, r.text)
        assert r.json()["code"] == "unsupported_media_type"
        assert r.json()["errors"][0]["pointer"] == "#/header/content-type"
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/merge-patch+json",
    ):
        r = await c.post(
            "/v1/loans/batch",
            content=b'{"records": []}',
            headers={**as_("bank", org="B001"), "Content-Type": content_type},
        )
        assert r.status_code != 415, content_type

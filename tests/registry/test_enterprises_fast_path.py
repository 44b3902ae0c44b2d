"""The list, search and detail answered in front of FastAPI's router (enterprises/fast_path.py)
give exactly what the routes give — bodies byte for byte, problems with the same status, code and
pointers — and the plain case never reaches the route."""

import httpx
import pytest

from services.registry.enterprises import fast_path, repository
from tests.registry_data import add_enterprise


@pytest.fixture
def c(client_for):
    return client_for("registry")


@pytest.fixture
def routed(routes_only):
    """The registry service without fast routes: every request is answered by the FastAPI routes."""
    return routes_only("registry")


def problem(r: httpx.Response) -> tuple:
    body = r.json()
    return r.status_code, body["code"], [e["pointer"] for e in body.get("errors") or []]


async def test_answers_are_the_routes_answers(c, routed, as_, db):
    codes = [
        await add_enterprise(
            db, name=f"杭州快路精密{i}有限公司", region_code="330106", tier="seedling", titles=["tech_sme"]
        )
        for i in range(3)
    ]
    await add_enterprise(db, name="宁波快路精密有限公司", region_code="330212")
    admin, official, bank = as_(), as_("official", region="330100"), as_("bank", org="B001")
    first = await c.get("/v1/enterprises", params={"q": "杭州快路精密", "limit": 2}, headers=admin)
    cursor = first.json()["next_cursor"]
    same = [
        ("/v1/enterprises", {"region": "3301", "tier": "seedling"}, admin),
        ("/v1/enterprises", {"limit": 1}, official),
        ("/v1/enterprises", {"q": "杭州快路精密", "limit": 2}, admin),
        ("/v1/enterprises", {"q": "杭州快路精密", "limit": 2, "cursor": cursor}, admin),
        ("/v1/enterprises", {"q": "快路精蜜"}, admin),  # fuzzy
        (f"/v1/enterprises/{codes[0]}", {}, admin),
        (f"/v1/enterprises/{codes[0].lower()}", {}, official),
        (f"/v1/enterprises/{codes[1]}", {}, bank),  # the directory record
    ]
    for path, params, headers in same:
        fast = await c.get(path, params=params, headers=headers)
        slow = await routed.get(path, params=params, headers=headers)
        assert fast.status_code == slow.status_code == 200, (path, params, fast.text)
        assert fast.content == slow.content, (path, params)
        assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
        assert fast.headers["content-length"] == slow.headers["content-length"]
        assert fast.headers.get("etag") == slow.headers.get("etag"), (path, params)
        if "etag" not in fast.headers:
            continue
        # the detail: the same entity tag, the same 304 without a body, the same HEAD
        etag = fast.headers["etag"]
        for method, extra in (
            ("GET", {"If-None-Match": etag}),
            ("GET", {"If-None-Match": f'W/"other", W/{etag}'}),
            ("GET", {"If-None-Match": "*"}),
            ("GET", {"If-None-Match": '"stale"'}),
            ("GET", {"If-None-Match": 'garbage, "unterminated'}),
            ("HEAD", {}),
            ("HEAD", {"If-None-Match": etag}),
        ):
            fast = await c.request(method, path, params=params, headers={**headers, **extra})
            slow = await routed.request(method, path, params=params, headers={**headers, **extra})
            assert (fast.status_code, fast.content) == (slow.status_code, slow.content), (method, extra)
            for name in ("etag", "content-length", "content-type"):
                assert fast.headers.get(name) == slow.headers.get(name), (method, extra, name)
            assert fast.headers["etag"] == etag
            fresh = extra.get("If-None-Match") not in (None, '"stale"', 'garbage, "unterminated')
            assert fast.status_code == (304 if fresh else 200), (method, extra)
            assert fast.content == (b"" if fresh or method == "HEAD" else slow.content)
    refused = [
        ("/v1/enterprises", {}, {}),  # 401: no principal
        ("/v1/enterprises", {}, bank),  # 403: banks read single directory records only
        ("/v1/enterprises", {"region": "3302"}, official),  # 403 region_out_of_scope
        ("/v1/enterprises", {"limit": 0}, admin),  # 422 #/query/limit
        ("/v1/enterprises", {"size": "huge"}, admin),  # 422 #/query/size
        ("/v1/enterprises", {"cursor": "not-a-cursor"}, admin),  # 400
        ("/v1/enterprises/91330106MA2XXXXXX0", {}, admin),  # 422: check character
        (f"/v1/enterprises/{codes[0][:-1]}", {}, admin),  # 422: length
        (f"/v1/enterprises/{codes[0]}", {}, as_("official", region="330212")),  # 404 outside region
    ]
    for path, params, headers in refused:
        fast = await c.get(path, params=params, headers=headers)
        slow = await routed.get(path, params=params, headers=headers)
        assert fast.status_code >= 400 and problem(fast) == problem(slow), (path, params, fast.text)


async def test_the_plain_case_never_reaches_the_route(c, as_, db, monkeypatch):
    code = await add_enterprise(db, region_code="330106")

    async def route_must_not_run(*args):
        raise AssertionError("the plain case went to the route")

    # the routes look these up at call time; the fast paths hold their own references
    monkeypatch.setattr(repository, "list_page", route_must_not_run)
    monkeypatch.setattr(repository, "one_row", route_must_not_run)
    r = await c.get("/v1/enterprises", headers=as_(), params={"region": "3301"})
    assert r.status_code == 200 and [e["credit_code"] for e in r.json()["items"]] == [code]
    r = await c.get(f"/v1/enterprises/{code}", headers={**as_(), "X-Request-ID": "rid-fast-2"})
    assert r.status_code == 200 and r.json()["credit_code"] == code
    assert r.headers["x-request-id"] == "rid-fast-2"
    metrics = (await c.get("/metrics")).text
    assert 'route="/v1/enterprises/{credit_code}"' in metrics


def test_the_fast_routes_sit_on_the_repository_and_schemas_never_the_router():
    """A fast route makes the route's calls, not the route itself: importing the router would put
    HTTP wiring under the fast path (and a cycle one edit away)."""
    import ast
    import inspect

    imported = {
        node.module
        for node in ast.walk(ast.parse(inspect.getsource(fast_path)))
        if isinstance(node, ast.ImportFrom)
    }
    assert "services.registry.enterprises.router" not in imported
    assert {"services.registry.enterprises.repository", "services.registry.enterprises.schemas"} <= imported

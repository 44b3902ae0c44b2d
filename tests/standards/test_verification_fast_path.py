"""The public verification's fast route (verification/fast_path.py) answers byte for byte as the
FastAPI route does — status, the headers that matter, body — for the same requests: the same
service without fast routes answers each request here through the route."""

import ast
import inspect

import pytest

from services.standards.verification import fast_path
from tests.standards.helpers import cert, push

HEADERS_THAT_MATTER = ("content-type", "content-length", "x-request-id", "retry-after", "etag")


@pytest.fixture
def c(client_for):
    return client_for("standards")


@pytest.fixture
def routed(routes_only):
    """The standards service without fast routes: every request is answered by the FastAPI routes."""
    return routes_only("standards")


async def test_fast_and_routed_answers_are_byte_identical(c, routed, as_):
    await push(c, as_("certifier", org="CQM"), [cert(certificate_no="PAR-2024/0001")])
    await push(c, as_("certifier", org="CEPREI"), [cert(certificate_no="PAR-2024/0001")])
    await push(c, as_("certifier", org="CQM"), [cert(certificate_no="PAR-2", status="revoked")])
    asks = [
        ("/v1/public/certifications/PAR-2024/0001", {}),  # two holders
        ("/v1/public/certifications/PAR-2024/0001", {"certifier": "CQM"}),
        ("/v1/public/certifications/PAR-2", {}),
        ("/v1/public/certifications/PAR-404", {}),  # 404: the fast route declines, the route answers
        ("/v1/public/certifications/PAR-2", {"certifier": "CEPREI"}),  # 404
    ]
    for i, (path, params) in enumerate(asks):
        headers = {"X-Request-ID": f"rid-parity-{i}"}
        fast = await c.get(path, params=params, headers=headers)
        slow = await routed.get(path, params=params, headers=headers)
        assert fast.status_code == slow.status_code, (path, params)
        assert fast.content == slow.content, (path, params)
        for name in HEADERS_THAT_MATTER:
            assert fast.headers.get(name) == slow.headers.get(name), (path, params, name)
        if fast.status_code != 200:
            continue
        # the same entity tag, the same 304 (no body), the same HEAD
        etag = fast.headers["etag"]
        for method, extra in (
            ("GET", {"If-None-Match": etag}),
            ("GET", {"If-None-Match": f'"x", W/{etag}'}),
            ("HEAD", {}),
            ("GET", {"If-None-Match": '"stale"'}),
        ):
            fast = await c.request(method, path, params=params, headers={**headers, **extra})
            slow = await routed.request(method, path, params=params, headers={**headers, **extra})
            assert fast.status_code == slow.status_code, (method, path, extra)
            assert fast.content == slow.content, (method, path, extra)
            for name in HEADERS_THAT_MATTER:
                assert fast.headers.get(name) == slow.headers.get(name), (method, path, extra, name)
            if "If-None-Match" in extra and extra["If-None-Match"] != '"stale"':
                assert fast.status_code == 304 and fast.content == b"" and fast.headers["etag"] == etag
            elif method == "HEAD":
                assert fast.status_code == 200 and fast.content == b"" and fast.headers["etag"] == etag


def test_the_fast_route_sits_on_the_repository_never_the_router():
    imported = {
        node.module
        for node in ast.walk(ast.parse(inspect.getsource(fast_path)))
        if isinstance(node, ast.ImportFrom)
    }
    assert "services.standards.verification.router" not in imported
    assert "services.standards.verification.repository" in {
        f"{m}.{a.name}" if m == "services.standards.verification" else m
        for node in ast.walk(ast.parse(inspect.getsource(fast_path)))
        if isinstance(node, ast.ImportFrom)
        for m in [node.module]
        for a in node.names
    }

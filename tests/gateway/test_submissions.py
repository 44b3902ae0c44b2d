"""A file submission through the gateway: the JSON body limit does not apply to it (the file
streams through to finance), its own limit does, answered at the edge."""

from services.common.settings import get_settings
from tests.finance.helpers import loan
from tests.finance.test_submissions import csv_of
from tests.gateway.conftest import EDGE_MAX_BODY, bearer
from tests.support import raw_request

PATH = "/finance/v1/submissions"


async def test_a_file_over_the_json_limit_streams_through_to_finance(edge, new_client, http, db):
    _, bank = await new_client("bank", org="GWS-A")
    body = csv_of([loan() for _ in range(100)])
    assert len(body) > 2 * EDGE_MAX_BODY  # the edge's JSON limit

    async def stream():
        for i in range(0, len(body), 1024):
            yield body[i : i + 1024]

    for content in (body, stream()):
        r = await http.post(
            edge["gateway"].url + PATH,
            params={"kind": "loans"},
            content=content,
            headers={**bearer(bank), "Content-Type": "text/csv"},
        )
        assert r.status_code == 202, r.text
        sub = r.json()
        assert r.headers["location"] == f"submissions/{sub['id']}"
        assert sub["size"] == len(body) and sub["links"]["self"] == f"{PATH}/{sub['id']}"
        got = await http.get(edge["gateway"].url + sub["links"]["self"], headers=bearer(bank))
        assert got.status_code == 200 and got.json()["sha256"] == sub["sha256"]


async def test_a_file_announced_over_the_submission_limit_is_a_413_at_the_edge(edge, new_client):
    _, bank = await new_client("bank", org="GWS-B")
    limit = get_settings().submissions.max_bytes
    # the head announces limit + 1 bytes; ten are sent, and the answer comes without the rest
    head = (
        f"POST {PATH}?kind=loans HTTP/1.1\r\nHost: eaglet.test\r\nAuthorization: Bearer {bank}\r\n"
        f"Content-Type: text/csv\r\nContent-Length: {limit + 1}\r\n\r\n"
    ).encode()
    r = raw_request(edge["gateway"].url, [head, b"loan_ref\r\n"], pause_s=0.2)
    assert r.status == 413, r.body
    assert r.json()["code"] == "payload_too_large"


async def test_only_banks_submit(edge, new_client, http):
    _, guarantor = await new_client("guarantor", org="GWS-G")
    r = await http.post(
        edge["gateway"].url + PATH,
        params={"kind": "loans"},
        content=b"loan_ref\r\n",
        headers={**bearer(guarantor), "Content-Type": "text/csv"},
    )
    assert r.status_code == 403, r.text


async def test_a_keyed_file_streams_through_and_the_same_file_again_is_the_same_submission(
    edge, new_client, http
):
    _, bank = await new_client("bank", org="GWS-K")
    body = csv_of([loan() for _ in range(100)])
    headers = {**bearer(bank), "Content-Type": "text/csv", "Idempotency-Key": "gws-k-1"}
    url = edge["gateway"].url + PATH
    first = await http.post(url, params={"kind": "loans"}, content=body, headers=headers)
    again = await http.post(url, params={"kind": "loans"}, content=body, headers=headers)
    assert first.status_code == again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"


async def test_a_certifiers_and_an_officials_files_stream_through_to_their_services(edge, new_client, http):
    """The other services' submissions are routed, streamed and limited the same way (the edge's
    registry is a stub that echoes what reached it)."""
    from services.registry.submissions import SUBMISSIONS as REGISTRY
    from services.standards.submissions import SUBMISSIONS as STANDARDS
    from tests.common.test_submissions_kit import csv_of, enterprise
    from tests.standards.helpers import cert

    _, certifier = await new_client("certifier", org="GWS-C")
    _, official = await new_client("official", region="330100")
    _, bank = await new_client("bank", org="GWS-D")
    certificates = csv_of(STANDARDS.kinds[0].fields, [cert() for _ in range(100)])
    enterprises = csv_of(REGISTRY.kinds[0].fields, [enterprise() for _ in range(100)])
    assert min(len(certificates), len(enterprises)) > 2 * EDGE_MAX_BODY
    csv_type = {"Content-Type": "text/csv"}

    url = f"{edge['gateway'].url}/standards/v1/submissions"
    params = {"kind": "certifications"}
    r = await http.post(url, params=params, content=certificates, headers={**bearer(certifier), **csv_type})
    assert r.status_code == 202, r.text
    sub = r.json()
    assert sub["links"]["self"] == f"/standards/v1/submissions/{sub['id']}"
    got = await http.get(edge["gateway"].url + sub["links"]["self"], headers=bearer(certifier))
    assert got.status_code == 200 and got.json()["size"] == len(certificates)

    url = f"{edge['gateway'].url}/registry/v1/submissions"
    params = {"kind": "enterprises"}
    r = await http.post(url, params=params, content=enterprises, headers={**bearer(official), **csv_type})
    assert r.status_code == 200, r.text  # the stub's echo: the whole file reached it
    assert r.json()["target"] == "/v1/submissions?kind=enterprises"
    assert r.json()["headers"]["content-length"] == str(len(enterprises))

    # a kind no service's submissions take is refused at the edge, before the file is read
    for service, kind in (("standards", "certifications"), ("registry", "enterprises")):
        url = f"{edge['gateway'].url}/{service}/v1/submissions"
        refused = await http.post(
            url, params={"kind": kind}, content=enterprises, headers={**bearer(bank), **csv_type}
        )
        assert refused.status_code == 403, refused.text

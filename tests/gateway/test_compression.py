"""Compression at the gateway (gateway/compression.py): gzip or brotli for clients that accept it,
answers of 1 KiB or more and streamed exports, never twice, never an XLSX, always `Vary:
Accept-Encoding`, entity tags kept apart per coding — and junk `Accept-Encoding` is never a 500."""

import gzip
import io
import zlib

import brotli
import httpx
import pytest
from openpyxl import load_workbook

from gateway.compression import CompressionMiddleware, chosen_coding
from tests.gateway.conftest import bearer, start_gateway
from tests.registry_data import add_enterprise
from tests.support import raw_request


async def raw_get(url: str, headers: dict[str, str]) -> httpx.Response:
    """The answer as it came over the wire (httpx would decode the body)."""
    async with httpx.AsyncClient(timeout=30) as c:
        async with c.stream("GET", url, headers={"Accept-Encoding": "identity", **headers}) as r:
            r.raw_body = b"".join([chunk async for chunk in r.aiter_raw()])
            return r


def decode(r: httpx.Response) -> bytes:
    coding = r.headers.get("content-encoding")
    if coding == "gzip":
        return gzip.decompress(r.raw_body)
    if coding == "br":
        return brotli.decompress(r.raw_body)
    assert coding is None, coding
    return r.raw_body


def vary(r) -> set[str]:
    return {v.strip().lower() for v in r.headers.get("vary", "").split(",") if v.strip()}


@pytest.fixture
async def enterprises(db):
    return [
        await add_enterprise(
            db, name=f"杭州压缩测试{i}号精密机械有限公司", region_code="330106", tier="seedling"
        )
        for i in range(40)
    ]


async def test_json_lists_are_compressed_for_clients_that_accept_it(gateway_live, new_client, enterprises):
    _, admin = await new_client("admin")
    url = gateway_live.url + "/registry/v1/enterprises?limit=40"
    plain = await raw_get(url, bearer(admin))
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert len(plain.raw_body) > 1024 and "accept-encoding" in vary(plain)
    for accept, coding in (
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("*", "br"),
        ("*;q=0.1, br;q=0", "gzip"),
    ):
        r = await raw_get(url, {**bearer(admin), "Accept-Encoding": accept})
        assert r.headers.get("content-encoding") == coding, accept
        assert "accept-encoding" in vary(r)
        assert int(r.headers["content-length"]) == len(r.raw_body) < len(plain.raw_body) / 3
        assert decode(r) == plain.raw_body, accept
    for accept in ("identity", "gzip;q=0", "deflate", "br;q=0, gzip;q=0", "zstd"):
        r = await raw_get(url, {**bearer(admin), "Accept-Encoding": accept})
        assert "content-encoding" not in r.headers and r.raw_body == plain.raw_body, accept


async def test_small_answers_stay_as_they_are(gateway_live):
    r = await raw_get(
        gateway_live.url + "/registry/v1/tools/credit-code/91330000733796106P",
        {"Accept-Encoding": "gzip, br"},
    )
    assert r.status_code == 200 and len(r.raw_body) < 1024
    assert "content-encoding" not in r.headers
    assert "accept-encoding" not in vary(r)


async def test_problems_and_the_gateways_own_answers_are_compressed_too(gateway_live):
    r = await raw_get(gateway_live.url + "/openapi.json", {"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip" and decode(r).startswith(b"{")
    r = await raw_get(gateway_live.url + "/docs/assets/swagger-ui.css", {"Accept-Encoding": "br"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "br"
    assert b"swagger-ui" in decode(r)


async def test_exports_stream_compressed_csv_and_never_touch_xlsx(gateway_live, new_client, enterprises):
    _, admin = await new_client("admin")
    url = gateway_live.url + "/registry/v1/enterprises/export?region=330106"
    plain = await raw_get(url + "&format=csv", bearer(admin))
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    for coding in ("gzip", "br"):
        r = await raw_get(url + "&format=csv", {**bearer(admin), "Accept-Encoding": coding})
        assert r.headers["content-encoding"] == coding and "content-length" not in r.headers
        assert decode(r) == plain.raw_body
        assert "accept-encoding" in vary(r)
        assert "杭州压缩测试0号精密机械有限公司" in decode(r).decode("utf-8-sig")
    xlsx = await raw_get(url + "&format=xlsx", {**bearer(admin), "Accept-Encoding": "gzip, br"})
    assert xlsx.status_code == 200 and "content-encoding" not in xlsx.headers
    assert "accept-encoding" not in vary(xlsx)
    sheet = load_workbook(io.BytesIO(xlsx.raw_body)).active
    assert sheet.max_row == 41


async def test_entity_tags_follow_the_coding(live_services, new_client, db, http):
    """A gateway compressing from 100 bytes on, so that a single enterprise is compressed."""
    gw = start_gateway(live_services, {"EAGLET_COMPRESS_MIN_BYTES": "100"})
    try:
        code = await add_enterprise(db, region_code="330106")
        _, admin = await new_client("admin")
        url = f"{gw.url}/registry/v1/enterprises/{code}"
        plain = await raw_get(url, bearer(admin))
        tag = plain.headers["etag"]
        gz = await raw_get(url, {**bearer(admin), "Accept-Encoding": "gzip"})
        br = await raw_get(url, {**bearer(admin), "Accept-Encoding": "br"})
        assert gz.headers["etag"] == tag[:-1] + '-gzip"' and br.headers["etag"] == tag[:-1] + '-br"'
        assert decode(gz) == decode(br) == plain.raw_body
        # each tag revalidates, and the 304 repeats the tag the client holds
        for held, accept in ((tag, "identity"), (gz.headers["etag"], "gzip"), (br.headers["etag"], "br")):
            r = await raw_get(url, {**bearer(admin), "Accept-Encoding": accept, "If-None-Match": held})
            assert r.status_code == 304 and r.raw_body == b"" and r.headers["etag"] == held, held
        # a write based on the compressed form's tag goes on; a stale one is refused
        ok = await http.patch(
            url, json={"address": "杭州市滨江区"}, headers={**bearer(admin), "If-Match": gz.headers["etag"]}
        )
        assert ok.status_code == 200, ok.text
        stale = await http.patch(
            url, json={"address": "杭州市上城区"}, headers={**bearer(admin), "If-Match": br.headers["etag"]}
        )
        assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
        # HEAD: the GET's headers, coding and tag included, no body
        head = await http.head(url, headers={**bearer(admin), "Accept-Encoding": "gzip"})
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-encoding"] == "gzip" and head.headers["etag"].endswith('-gzip"')
    finally:
        gw.stop()


async def test_junk_accept_encoding_is_never_a_500(gateway_live, new_client, enterprises):
    _, admin = await new_client("admin")
    for value in (
        b"gzip;q=2",
        b"gzip;q=abc",
        b";;;,,,",
        b"\x80\xff",
        b"gzip;q=0.5;q=1",
        b"br" * 3000,
        b"*;q=",
        b"gzip\t;\tq=1",
        b"GZIP",
        b", ,",
    ):
        request = (
            b"GET /registry/v1/enterprises?limit=40 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
            + admin.encode()
            + b"\r\nAccept-Encoding: "
            + value
            + b"\r\nConnection: close\r\n\r\n"
        )
        r = raw_request(gateway_live.url, request)
        assert r.status in (200, 400), (value, r.status)
        if r.status == 200 and r.headers.get("content-encoding") == "gzip":
            assert gzip.decompress(r.body).startswith(b'{"items":')


def test_the_choice_of_coding():
    assert chosen_coding(None) is None and chosen_coding("") is None
    assert chosen_coding("gzip") == "gzip" and chosen_coding("br, gzip") == "br"
    assert chosen_coding("gzip;q=1, br;q=0.9") == "gzip"
    assert chosen_coding("gzip;q=0") is None and chosen_coding("identity") is None
    assert chosen_coding("gzip;q=1.5") is None and chosen_coding("gzip;q=x") is None
    assert chosen_coding("br" * 5000) is None


async def _asgi(app, headers: list[tuple[bytes, bytes]]) -> tuple[dict, bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    await app(scope, receive, send)
    return sent[0], b"".join(m.get("body", b"") for m in sent[1:])


async def test_an_answer_already_encoded_is_never_encoded_again():
    body = zlib.compress(b"x" * 5000)

    async def upstream(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-encoding", b"deflate"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    start, got = await _asgi(CompressionMiddleware(upstream, 1024), [(b"accept-encoding", b"gzip, br")])
    assert dict(start["headers"])[b"content-encoding"] == b"deflate" and got == body


async def test_no_transform_and_other_media_are_left_alone():
    for headers in (
        [(b"content-type", b"application/json"), (b"cache-control", b"no-transform")],
        [(b"content-type", b"image/png")],
        [(b"content-type", b"application/zip")],
        [],
    ):

        async def upstream(scope, receive, send, headers=headers):
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"y" * 5000})

        start, got = await _asgi(CompressionMiddleware(upstream, 1024), [(b"accept-encoding", b"gzip")])
        assert b"content-encoding" not in dict(start["headers"]) and got == b"y" * 5000

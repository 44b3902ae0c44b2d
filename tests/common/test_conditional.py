"""Conditional requests at the services (services/common/conditional.py): every single-resource GET
answers an `ETag` derived from what it sends — the same from another process, a new one after a
change — `If-None-Match` gets a 304 without a body, and a PATCH whose `If-Match` is not current is
a 412 `precondition_failed` that writes nothing."""

import asyncio

import pytest

from services.common import conditional
from services.common.conditional import entity_tag, matches, none_match, parse
from tests.registry_data import add_enterprise
from tests.standards.helpers import add_standard, cert, push


def test_entity_tag_lists_are_read_strictly_and_junk_is_ignored():
    assert parse('"a"') == [(False, '"a"')]
    assert parse(' W/"a" ,"b",W/""') == [(True, '"a"'), (False, '"b"'), (True, '""')]
    assert parse("*") == [] and parse(" * ") == []
    for junk in (
        "a",
        '"a',
        '"a" "b"',
        'W/ "a"',
        '"a",,',
        "",
        " ",
        '"a\x00"',
        '"a"\x00',
        '*, "a"',
        '"' + "x" * 20000 + '"',
        "\ud800",
        "W/" * 5000,
    ):
        assert parse(junk) is None, junk
    tag = entity_tag(b"{}")
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 24
    assert none_match(f'"x", W/{tag}', tag) and none_match("*", tag) and not none_match('"x"', tag)
    assert not none_match("garbage", tag) and not none_match(None, tag)
    assert matches(None, tag) and matches(tag, tag) and matches("*", tag) and matches(f'"x", {tag}', tag)
    assert not matches(f"W/{tag}", tag)  # If-Match compares strongly
    assert not matches('"x"', tag) and not matches("garbage", tag)


def test_hostile_headers_are_cheap():
    # a 1 KiB list of tags, and a pathological prefix, are each read once, linearly
    many = ", ".join(f'"{i:04d}"' for i in range(120))  # under 1 KiB
    assert len(parse(many)) == 120
    assert parse('"' * 1000) is None
    assert parse('"a", ' * 300) is None  # over 1 KiB: ignored (the route's 422 first)


@pytest.fixture
def registry(client_for):
    return client_for("registry")


async def _conditional_get(c, path, headers):
    first = await c.get(path, headers=headers)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag == entity_tag(first.content)
    again = await c.get(path, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert "content-type" not in again.headers
    stale = await c.get(path, headers={**headers, "If-None-Match": '"not-it"'})
    assert stale.status_code == 200 and stale.content == first.content
    head = await c.head(path, headers=headers)
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    assert head.headers["content-length"] == first.headers["content-length"]
    return etag, first.json()


async def test_enterprise_etag_304_and_if_match(registry, routes_only, as_, db):
    code = await add_enterprise(db, name="杭州条件请求科技有限公司", region_code="330106")
    admin, bank = as_(), as_("bank", org="B001")
    path = f"/v1/enterprises/{code}"
    etag, _ = await _conditional_get(registry, path, admin)
    # another process, same state: the same tag (content, not process state)
    other = routes_only("registry")
    assert (await other.get(path, headers=admin)).headers["etag"] == etag
    # each caller's representation has its own tag: a bank reads the directory record
    bank_tag, _ = await _conditional_get(registry, path, bank)
    assert bank_tag != etag

    stale = await registry.patch(path, json={"name": "x公司"}, headers={**admin, "If-Match": '"old"'})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    assert stale.json()["errors"][0]["pointer"] == "#/header/if-match"
    weak = await registry.patch(path, json={"name": "x公司"}, headers={**admin, "If-Match": f"W/{etag}"})
    assert weak.status_code == 412
    assert (await registry.get(path, headers=admin)).json()["name"] == "杭州条件请求科技有限公司"
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_key = $1", code) == 0

    ok = await registry.patch(
        path, json={"name": "杭州条件请求二号有限公司"}, headers={**admin, "If-Match": etag}
    )
    assert ok.status_code == 200 and ok.json()["name"] == "杭州条件请求二号有限公司"
    new = ok.headers["etag"]
    assert new != etag and new == entity_tag(ok.content)
    got = await registry.get(path, headers={**admin, "If-None-Match": etag})
    assert got.status_code == 200 and got.headers["etag"] == new and got.content == ok.content
    # the tag seen before the change no longer writes; "*" does (the record exists)
    assert (
        await registry.patch(path, json={"name": "y"}, headers={**admin, "If-Match": etag})
    ).status_code == 412
    star = await registry.patch(path, json={"address": "西湖区"}, headers={**admin, "If-Match": "*"})
    assert star.status_code == 200
    # without If-Match a write goes on as before
    assert (await registry.patch(path, json={"address": "滨江区"}, headers=admin)).status_code == 200


async def test_two_officials_with_one_tag_cannot_both_write(registry, as_, db):
    code = await add_enterprise(db, name="杭州并发编辑有限公司", region_code="330106")
    path = f"/v1/enterprises/{code}"
    official = as_("official", region="330100")
    etag = (await registry.get(path, headers=official)).headers["etag"]
    answers = await asyncio.gather(
        *(
            registry.patch(
                path, json={"name": f"杭州并发编辑{i}号有限公司"}, headers={**official, "If-Match": etag}
            )
            for i in range(4)
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 412, 412, 412]
    assert await db.fetchval("SELECT count(*) FROM registry.changes WHERE entity_key = $1", code) == 1


async def test_park_etag_and_if_match(registry, as_):
    admin = as_()
    r = await registry.post("/v1/parks", json={"name": "条件园", "region_code": "330106"}, headers=admin)
    assert r.status_code == 201
    path = f"/v1/parks/{r.json()['id']}"
    etag, body = await _conditional_get(registry, path, admin)
    assert body["name"] == "条件园"
    stale = await registry.patch(path, json={"star_rating": 3}, headers={**admin, "If-Match": '"x"'})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"
    ok = await registry.patch(
        path, json={"star_rating": 3, "rated_on": "2022-05-01"}, headers={**admin, "If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    assert (
        ok.headers["etag"] != etag
        and ok.headers["etag"] == (await registry.get(path, headers=admin)).headers["etag"]
    )


async def test_standard_and_certificate_etags(client_for, as_):
    c = client_for("standards")
    admin = as_()
    await add_standard(c, admin, code="T/ZZB 0777-2022", title="条件标准")
    path = "/v1/standards/T%2FZZB%200777-2022"
    etag, _ = await _conditional_get(c, path, admin)
    stale = await c.patch(path, json={"title": "新"}, headers={**admin, "If-Match": '"x"'})
    assert stale.status_code == 412
    ok = await c.patch(path, json={"title": "新标题"}, headers={**admin, "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] != etag

    certifier = as_("certifier", org="CQM")
    record = cert(certificate_no="ETAG-2024/0001")
    assert (await push(c, certifier, [record])).status_code == 200
    cert_tag, _ = await _conditional_get(c, "/v1/certifications/ETAG-2024/0001", certifier)
    public_tag, _ = await _conditional_get(c, "/v1/public/certifications/ETAG-2024/0001", {})
    changed = await push(c, certifier, [{**record, "product": "齿轮减速电机（改型）"}])
    assert changed.json()["results"][0]["status"] == "updated", changed.text
    changed = await c.get(
        "/v1/certifications/ETAG-2024/0001", headers={**certifier, "If-None-Match": cert_tag}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != cert_tag
    public = await c.get("/v1/public/certifications/ETAG-2024/0001", headers={"If-None-Match": public_tag})
    assert public.status_code == 200 and public.headers["etag"] != public_tag


async def test_institution_etag(client_for, as_):
    c = client_for("finance")
    r = await c.post(
        "/v1/institutions",
        json={"code": "ETAGBANK", "name": "条件银行", "kind": "bank", "region_code": "330000"},
        headers=as_(),
    )
    assert r.status_code == 201, r.text
    await _conditional_get(c, "/v1/institutions/ETAGBANK", as_("bank", org="ETAGBANK"))
    missing = await c.get("/v1/institutions/NOPE", headers=as_())
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_json_answer_is_the_fast_routes_answer():
    body = b'{"a":1}'
    status, headers, content = conditional.answer(body, None)
    response = conditional.json_answer(body, None)
    assert (response.status_code, response.raw_headers, response.body) == (status, headers, content)

"""The demo seed and the bulk generator produce data the API serves."""

from services.standards import seed
from tests.registry_data import add_enterprise


async def test_demo_seed_covers_the_catalogue_and_every_status(db, client_for, as_):
    for i in range(14):
        await add_enterprise(db, region_code="330106" if i % 2 else "330212", sizes={2023: "small"})
    await seed.seed_demo(db)
    await seed.seed_demo(db)  # loading again adds nothing
    levels = dict(await db.fetch("SELECT level, count(*) FROM standards.standards GROUP BY level"))
    assert levels["zhejiang_made"] == 100 and levels["international"] >= 10 and levels["national"] >= 10
    certifiers = {r[0] for r in await db.fetch("SELECT DISTINCT certifier FROM standards.certificates")}
    assert certifiers == {"CQM", "CQC", "ZJGX"}
    numbers = [r[0] for r in await db.fetch("SELECT certificate_no FROM standards.certificates")]
    r = await client_for("standards").post(
        "/v1/public/certifications/lookup", json={"certificate_nos": numbers}
    )
    statuses = {c["status"] for x in r.json()["results"] for c in x["certificates"]}
    assert statuses == {"valid", "suspended", "revoked", "cancelled", "expired"}
    assert (
        await db.fetchval(
            "SELECT count(*) FROM standards.certificates c WHERE revision <> "
            "(SELECT count(*) FROM standards.certificate_history h WHERE h.certificate_id = c.id)"
        )
        == 0
    )
    stats = await client_for("standards").get("/v1/stats", params={"year": 2023}, headers=as_())
    assert stats.status_code == 200 and stats.json()["zhejiang_made_standards"] == 100


async def test_generator_writes_certificates_with_history(db):
    await seed.generate(db, 300)
    assert await db.fetchval("SELECT count(*) FROM standards.certificates") == 300
    assert await db.fetchval("SELECT count(*) FROM standards.certificate_history") == 300

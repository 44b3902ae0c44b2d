"""The SSRF guard: outside dev a webhook URL is https and reaches public addresses only (unless
its host is allowed), at registration and again at every delivery, which connects to the
address it checked."""

import datetime as dt
import ipaddress
import ssl

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.webhooks import ssrf
from services.common.settings import Settings, get_settings
from tests.gateway.webhooks.conftest import bearer, loan, post_loans, register, with_webhooks
from tests.support import create_gateway

SECRETS = {
    "internal_key": "prod-internal-key-for-the-webhook-tests-0000",
    "cursor_key": "prod-cursor-key-for-the-webhook-tests-00000",
    "token_key": "prod-token-key-for-the-webhook-tests-000000",
}


def prod(**webhooks) -> Settings:
    """Production settings; their secrets key opens what the (dev) test gateway sealed."""
    base = Settings(env="prod", database_url=get_settings().database_url, **SECRETS)
    shared = get_settings().internal_key.get_secret_value()
    return with_webhooks(base, secrets_key=shared, **webhooks)


REFUSED = {
    "http://93.184.216.34/hook": "webhook_url_scheme",
    "https://127.0.0.1/hook": "webhook_url_not_public",
    "https://localhost:8443/hook": "webhook_url_not_public",
    "https://10.0.0.1/": "webhook_url_not_public",
    "https://172.16.5.4/": "webhook_url_not_public",
    "https://192.168.1.1/": "webhook_url_not_public",
    "https://169.254.169.254/latest/meta-data/": "webhook_url_not_public",
    "https://100.64.0.1/": "webhook_url_not_public",
    "https://0.0.0.0/": "webhook_url_not_public",
    "https://224.0.0.251/": "webhook_url_not_public",
    "https://240.0.0.1/": "webhook_url_not_public",
    "https://198.18.0.1/": "webhook_url_not_public",
    "https://[::1]/": "webhook_url_not_public",
    "https://[::]/": "webhook_url_not_public",
    "https://[fe80::1]/": "webhook_url_not_public",
    "https://[fc00::1]/": "webhook_url_not_public",
    "https://[ff02::1]/": "webhook_url_not_public",
    "https://[::ffff:127.0.0.1]/": "webhook_url_not_public",
    "https://[::ffff:169.254.169.254]/": "webhook_url_not_public",
    "https://[2002:7f00:1::]/": "webhook_url_not_public",  # 6to4 around 127.0.0.1
    "https://[64:ff9b::a00:1]/": "webhook_url_not_public",  # NAT64 around 10.0.0.1
    "https://2130706433/": "webhook_url_not_public",  # 127.0.0.1 written as a number
    "https://0x7f.0.0.1/": "webhook_url_not_public",
    "https://017700000001/": "webhook_url_not_public",
    "https://127.1/": "webhook_url_not_public",
    "https://nonexistent.invalid/": "webhook_url_unresolvable",
    "https://user@93.184.216.34/": "webhook_url_invalid",
}


@pytest.mark.parametrize("url,code", list(REFUSED.items()))
async def test_outside_dev_private_and_odd_urls_are_refused(url, code):
    with pytest.raises(ssrf.UrlRefused) as refused:
        await ssrf.check_registration(url, prod())
    assert refused.value.code == code, refused.value.message


async def test_public_addresses_and_allowed_hosts_pass_and_dev_allows_loopback():
    for url in ("https://93.184.216.34/hook", "https://[2606:2800:220:1:248:1893:25c8:1946]:8443/x?a=1"):
        await ssrf.check_registration(url, prod())
    allowed = prod(allow_hosts="hooks.bank.internal, LOCALHOST")
    assert allowed.webhooks.allow_hosts == ["hooks.bank.internal", "localhost"]
    await ssrf.check_registration("https://hooks.bank.internal/eaglet", allowed)  # not even resolved
    await ssrf.check_registration("https://localhost:9443/eaglet", allowed)
    with pytest.raises(ssrf.UrlRefused):
        await ssrf.check_registration("http://localhost/eaglet", allowed)  # https still
    dev = get_settings()
    assert dev.env == "dev"
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "https://[::1]/"):
        await ssrf.check_registration(url, dev)


def test_an_address_is_public_only_when_no_wrapping_hides_a_private_one():
    def why(a):
        return ssrf.refusal(ipaddress.ip_address(a))

    assert why("8.8.8.8") is None and why("2001:4860:4860::8888") is None
    assert why("::ffff:10.1.2.3") == "a private address (inside an IPv6 address)"
    assert why("2001:0:4136:e378:8000:63bf:3fff:fdd2") is not None  # Teredo
    assert why("100.127.255.255") == "a shared (CGNAT) address"


async def test_registration_through_a_production_gateway_refuses_with_a_pointer(new_client, db):
    app = create_gateway(settings=prod())
    _, key = await new_client("bank", org="B-SSRF")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
        r = await c.post(
            "/v1/webhooks",
            json={"url": "https://169.254.169.254/latest", "event_types": ["loan.created"]},
            headers=bearer(key),
        )
        assert r.status_code == 422 and r.json()["code"] == "webhook_url_refused", r.text
        (error,) = r.json()["errors"]
        assert (error["pointer"], error["code"]) == ("/url", "webhook_url_not_public")
        assert "link-local" in error["message"] and "169.254" not in error["message"]
        r = await c.post(
            "/v1/webhooks",
            json={"url": "http://93.184.216.34/", "event_types": ["loan.created"]},
            headers=bearer(key),
        )
        assert r.status_code == 422 and r.json()["errors"][0]["code"] == "webhook_url_scheme"
        r = await c.post(
            "/v1/webhooks",
            json={"url": "https://93.184.216.34/h", "event_types": ["loan.created"]},
            headers=bearer(key),
        )
        assert r.status_code == 201, r.text
        r = await c.patch(
            f"/v1/webhooks/{r.json()['id']}", json={"url": "https://[::1]/"}, headers=bearer(key)
        )
        assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/url"
    await app.state.engine.dispose()
    assert await db.fetchval("SELECT url FROM gateway.webhook_endpoints") == "https://93.184.216.34/h"


async def test_a_delivery_checks_again_and_is_not_sent_when_the_name_now_resolves_privately(
    gateway_live, new_client, http, db, receivers, dispatcher
):
    """Registered when the name was public (here: a dev gateway, which does not resolve); by the
    time of the delivery it resolves to a private address: not sent, and the log says why."""
    _, key = await new_client("bank", org="B-DNS")
    await register(http, gateway_live.url, key, "https://hooks.bank-dns.example/hook", ["loan.created"])
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="DNS-1")])
    asked = []

    async def resolver(host, port):
        asked.append((host, port))
        return ["10.20.30.40"]

    d = await dispatcher(prod(), resolver=resolver)
    await d.fan_out()
    assert await d.send_due() == 1
    row = await db.fetchrow("SELECT * FROM gateway.webhook_deliveries")
    assert asked == [("hooks.bank-dns.example", 443)]
    assert row["status"] == "pending" and row["last_status_code"] is None
    assert row["last_error"] == "not sent: the URL's host resolves to a private address"
    # and a URL that is no longer https outside dev is not sent either
    receiver = await receivers()
    await register(http, gateway_live.url, key, receiver.url, ["loan.created"])
    await post_loans(http, gateway_live.url, key, [loan(loan_ref="DNS-2")])
    await d.fan_out()
    await d.send_due()
    assert receiver.requests == []
    errors = {r["last_error"] for r in await db.fetch("SELECT last_error FROM gateway.webhook_deliveries")}
    assert "not sent: the URL must be https" in errors


def _certificates(tmp_path, name: str):
    """A test CA and a server certificate for `name` signed by it."""
    now = dt.datetime.now(dt.UTC)

    def cert(subject, issuer, key, signer, ca: bool, san=None):
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("eaglet test CA", "eaglet test CA", ca_key, ca_key, True)
    server = cert(name, "eaglet test CA", key, ca_key, False, san=name)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(server.public_bytes(pem))
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"


async def test_a_delivery_connects_to_the_checked_address_with_the_urls_name_for_tls(
    gateway_live, new_client, http, db, dispatcher, tmp_path
):
    """An allowed host outside dev: resolved once, connected to at that address, and TLS still
    checks the certificate against the URL's name (SNI and Host carry it)."""
    name = "hooks.bank-tls.example"
    ca, cert, key_file = _certificates(tmp_path, name)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key_file)
    sni: list[str | None] = []
    server_tls.sni_callback = lambda _sock, server_name, _ctx: sni.append(server_name)
    seen: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append({"host": request.headers["Host"], "path": request.path_qs, "body": await request.read()})
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        _, key = await new_client("bank", org="B-TLS")
        await register(
            http, gateway_live.url, key, f"https://{name}:{port}/hook?from=eaglet", ["loan.created"]
        )
        await register(
            http, gateway_live.url, key, f"https://wrong-name.example:{port}/hook", ["loan.created"]
        )
        lookups = []

        async def resolver(host, p):
            lookups.append(host)
            return ["127.0.0.1"]

        settings = prod(allow_hosts=[name, "wrong-name.example"])
        client_tls = ssl.create_default_context(cafile=str(ca))
        d = await dispatcher(settings, resolver=resolver, verify=client_tls)
        await post_loans(http, gateway_live.url, key, [loan(loan_ref="TLS-1")])
        await d.fan_out()
        assert await d.send_due() == 2
        assert sorted(lookups) == sorted([name, "wrong-name.example"])
        assert seen == [{"host": f"{name}:{port}", "path": "/hook?from=eaglet", "body": seen[0]["body"]}]
        assert name in sni
        rows = {
            r["url"]: r
            for r in await db.fetch(
                "SELECT e.url, d.status, d.last_error FROM gateway.webhook_deliveries d "
                "JOIN gateway.webhook_endpoints e ON e.id = d.endpoint_id"
            )
        }
        assert rows[f"https://{name}:{port}/hook?from=eaglet"]["status"] == "delivered"
        wrong = rows[f"https://wrong-name.example:{port}/hook"]
        assert wrong["status"] == "pending" and "certificate" in wrong["last_error"].lower()
    finally:
        await runner.cleanup()

"""`/docs` and `/redoc` work on a network without the internet (services/common/docs.py): every
asset the pages name is same-origin and loads from the process itself, on the gateway and on
each service."""

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.links


@pytest.mark.parametrize("process", ["gateway", "registry", "finance", "standards"])
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_only_same_origin_assets(process, page, gateway_live, live_services, http):
    base = gateway_live.url if process == "gateway" else live_services[process].url
    r = await http.get(base + page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    found = links(r.text)
    assert len(found) >= 2, found  # the script and the favicon (and Swagger UI's stylesheet)
    for link in found:
        split = urlsplit(link)
        assert not split.scheme and not split.netloc, f"{page} names {link}"
        asset = await http.get(urljoin(base + page, link))
        assert asset.status_code == 200, link
        kind = next(v for k, v in ASSET_TYPES.items() if link.endswith(k))
        assert kind in asset.headers["content-type"], (link, asset.headers["content-type"])
        assert len(asset.content) > 1000
    # nothing else in the page reaches out: no absolute URL at all but the spec's own path
    assert "http://" not in r.text and "https://" not in r.text, page
    assert "/openapi.json" in r.text
    spec = await http.get(base + "/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.")

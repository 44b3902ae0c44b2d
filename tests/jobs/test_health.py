"""The worker's probes (EAGLET_JOBS__HEALTH_PORT): /healthz, /readyz, /metrics; every other
request is a problem, and a stopped worker stops answering."""

import asyncio
import socket

import httpx

from tests.support import fast_worker_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _get(client: httpx.AsyncClient, path: str, method: str = "GET") -> httpx.Response:
    for _ in range(100):  # the server starts with the worker
        try:
            return await client.request(method, path)
        except httpx.ConnectError:
            await asyncio.sleep(0.05)
    raise AssertionError("the worker's health port never opened")


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_the_worker_answers_its_probes(in_process_worker):
    port = _free_port()
    task = await in_process_worker(fast_worker_settings(health_port=port))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert (await _get(client, "/healthz")).json() == {"status": "ok"}
        assert (await _get(client, "/readyz")).json() == {"status": "ready"}
        metrics = await _get(client, "/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        head = await _get(client, "/healthz", "HEAD")
        assert head.status_code == 200 and head.content == b""

        missing = await _get(client, "/nope")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["code"] == "not_found"
        post = await _get(client, "/healthz", "POST")
        assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"

    assert (await _raw(port, b"\x16\x03\x01 garbage\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
    assert (await _raw(port, b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
    assert not task.done()

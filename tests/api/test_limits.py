"""Every endpoint refuses an oversized body with 413 and the API's error shape, declared or streamed."""

from collections.abc import AsyncIterator

from tests.support import Hub

HUGE = 2 * 1_048_576


async def test_a_declared_oversized_body_is_refused_before_it_is_read(hub: Hub) -> None:
    response = await hub.client.post(
        "/api/v1/systems",
        content=b"{" + b" " * HUGE + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "client.payload_too_large"


async def test_a_streamed_oversized_body_is_refused_too(hub: Hub) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"code": "'
        for _ in range(HUGE // 65_536 + 1):
            yield b"A" * 65_536

    response = await hub.client.post(
        "/api/v1/exchange", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "limited to 1048576 bytes" in response.json()["error"]["message"]


async def test_a_body_within_the_limit_goes_through(hub: Hub) -> None:
    response = await hub.client.post(
        "/api/v1/agencies", json={"code": "SO-TP", "name": "Sở Tư pháp " + "x" * 100, "level": "province"}
    )
    assert response.status_code == 201, response.text

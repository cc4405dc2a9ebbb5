"""Whose address a request counts against (lgsp/api/addresses.py), on a small application of its own: the
connection's, or the client a trusted proxy names in X-Forwarded-For; an IPv6 client by its /64. A proxy
that is not trusted cannot make one client look like many."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lgsp.api import addresses
from lgsp.api.addresses import BURST_SECONDS, client_address, install_address_limits, trusted_proxies
from lgsp.settings import Settings

_bearer = HTTPBearer(auto_error=False)


def small_app(**settings: Any) -> FastAPI:
    """A route without a key and one with, behind the hub's per-address limits."""
    app = FastAPI()

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    @app.get("/keyed")
    async def keyed_route(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> dict[str, str]:
        if credentials is None or credentials.credentials != "good":
            raise HTTPException(401)
        return {}

    install_address_limits(app, Settings(**settings))
    return app


@pytest.fixture(autouse=True)
def stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits' clock stands still: no bucket refills while a test runs, however slow the machine."""
    now = addresses.clock()
    monkeypatch.setattr(addresses, "clock", lambda: now)


@pytest.fixture
def app() -> FastAPI:
    return small_app(public_rate_per_address=1.0, auth_failures_per_address=3, trusted_proxies="10.0.0.0/8")


@pytest.fixture
async def via_proxy(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Requests relayed by a trusted proxy (10.1.2.3)."""
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield client


@pytest.fixture
async def direct(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Requests from 192.0.2.1, which is no proxy the hub trusts."""
    transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield client


BURST = int(BURST_SECONDS)  # at a rate of one request a second


async def test_an_untrusted_peer_cannot_spread_its_requests_over_forwarded_addresses(
    direct: httpx.AsyncClient, via_proxy: httpx.AsyncClient
) -> None:
    spoofed = [
        (await direct.get("/open", headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
        for n in range(BURST + 1)
    ]
    assert spoofed == [200] * BURST + [429]
    # Through the trusted proxy each forwarded client has its own bucket.
    relayed = [
        (await via_proxy.get("/open", headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
        for n in range(BURST + 1)
    ]
    assert relayed == [200] * (BURST + 1)


async def test_bad_keys_block_the_address_for_keyed_routes_only(
    direct: httpx.AsyncClient, via_proxy: httpx.AsyncClient
) -> None:
    bad = {"Authorization": "Bearer bad"}
    statuses = [(await direct.get("/keyed", headers=bad)).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]  # three allowed, the fourth blocks the address
    refused = await direct.get("/keyed", headers={"Authorization": "Bearer good"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "client.rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await direct.get("/keyed")).status_code == 401  # no key: nothing to guess, answered as ever
    assert (await direct.get("/open")).status_code == 200
    # Another client, relayed by the proxy, is not blocked with it.
    good = {"Authorization": "Bearer good", "X-Forwarded-For": "192.0.2.2"}
    assert (await via_proxy.get("/keyed", headers=good)).status_code == 200


def test_an_ipv6_client_counts_by_its_64_and_a_mapped_ipv4_as_itself() -> None:
    def of(host: str) -> str:
        return client_address({"type": "http", "client": (host, 1)})

    assert of("2001:db8:1:2::1") == of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert of("2001:db8:1:3::1") != of("2001:db8:1:2::1")
    assert of("::ffff:192.0.2.7") == of("192.0.2.7") == "192.0.2.7"


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert trusted_proxies(" 10.0.0.0/8, 127.0.0.1 ,::1") == ["10.0.0.0/8", "127.0.0.1", "::1"]
    assert trusted_proxies("") == []  # trust none: the connecting address is the client
    with pytest.raises(ValueError, match=r"'proxy\.local'"):
        trusted_proxies("10.0.0.0/8,proxy.local")
    with pytest.raises(ValueError, match=r"'proxy\.local'"):
        small_app(trusted_proxies="proxy.local")

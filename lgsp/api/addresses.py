"""Limits per client address on what anyone can call, and on failed keys.

Routes that take no key (the dashboard, the indicators, health, metrics, the bus trust anchor, the API
documentation, and any unknown path) are open to the world, so each client address gets a token bucket:
`public_rate_per_address` requests a second on average, bursts of BURST_SECONDS' worth, then 429
`client.rate_limited` with a Retry-After. Routes that take a key are limited by the key instead (a
system's exchanges by LGSP_EXCHANGE_RATE_PER_CLIENT); what an address can do to them without a valid key
is guess, so an address whose keys fail (401) more than `auth_failures_per_address` times in
FAILURE_WINDOW has its keyed requests refused with 429 for a FAILURE_WINDOW, before any of them reaches
the database.

The client address is the connection's, or behind a trusted reverse proxy (LGSP_TRUSTED_PROXIES) the one
that proxy names in X-Forwarded-For; an IPv6 client counts by its /64, as one host usually has a whole
one. Buckets live in this hub process's memory: with N processes behind a load balancer, an address gets
up to N times these limits (docs/operators/running.md).
"""

import ipaddress
import json
import math
import re
import time

from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from lgsp.errors import error_body
from lgsp.exchange.ratelimit import RateLimiter
from lgsp.settings import Settings

#: An address's burst on routes without a key: this many seconds' worth of its rate at once.
BURST_SECONDS = 5.0
#: Failed keys are counted over this many seconds, and an address over the limit waits as long.
FAILURE_WINDOW = 60.0
#: Addresses remembered at once, per kind of limit; beyond, their buckets start afresh (see _Buckets).
MAX_ADDRESSES = 100_000


def clock() -> float:
    """Monotonic seconds, as the limits read them (one name, so a test can stop their time alone)."""
    return time.monotonic()


def client_address(scope: Scope) -> str:
    """Who the limits count a request against: its client's IP address, an IPv6 one as its /64."""
    client = scope.get("client")
    if not client:
        return "unknown"  # no socket (a test transport, a Unix socket): everyone behind it shares
    try:
        ip = ipaddress.ip_address(client[0])
    except ValueError:
        return str(client[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def trusted_proxies(setting: str) -> list[str]:
    """The proxies of LGSP_TRUSTED_PROXIES, each an address or a CIDR network (`*`: any); ValueError
    naming a wrong one, so a typo stops the hub at start rather than trusting nobody silently."""
    proxies = [item.strip() for item in setting.split(",") if item.strip()]
    for proxy in proxies:
        if proxy != "*":
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"LGSP_TRUSTED_PROXIES: {proxy!r} is not an IP address or network") from None
    return proxies


class _Buckets:
    """RateLimiter buckets per address, forgotten a generation at a time so memory stays bounded.

    A generation lasts at least as long as an empty bucket takes to fill up again, so forgetting one gives
    an address at most one more burst per generation; it ends early only when MAX_ADDRESSES were seen.
    """

    def __init__(self, rate: float, burst: int, generation: float) -> None:
        self.rate = rate
        self.burst = burst
        self.generation = max(generation, burst / rate)
        self._limiter = RateLimiter(rate, burst)
        self._seen: set[str] = set()
        self._since = clock()

    def allow(self, address: str, now: float) -> bool:
        """Take a token from `address`'s bucket; False if it had none."""
        if now - self._since >= self.generation or len(self._seen) >= MAX_ADDRESSES:
            self._limiter = RateLimiter(self.rate, self.burst)
            self._seen.clear()
            self._since = now
        self._seen.add(address)
        return self._limiter.allow(address, now)


def keyed_operations(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path pattern, methods) of the routes that take a key: the operations of the OpenAPI schema with a
    security requirement (the bearer key), as integrators read them at /docs. Any other route is public."""
    keyed = []
    for path, operations in app.openapi()["paths"].items():
        methods = frozenset(
            method.upper() for method, operation in operations.items() if operation.get("security")
        )
        if methods:
            keyed.append((compile_path(path)[0], methods))
    return keyed


class AddressLimits:
    """Pure ASGI middleware: the per-address limits of this module, answered in the API's error shape."""

    def __init__(self, app: ASGIApp, settings: Settings, application: FastAPI) -> None:
        self.app = app
        self.application = application
        rate = settings.public_rate_per_address
        self.public = _Buckets(rate, max(1, math.ceil(rate * BURST_SECONDS)), FAILURE_WINDOW)
        failures = settings.auth_failures_per_address
        self.failures = _Buckets(failures / FAILURE_WINDOW, failures, FAILURE_WINDOW)
        self._blocked: dict[str, float] = {}  # address -> until when its keyed requests are refused
        self._keyed: list[tuple[re.Pattern[str], frozenset[str]]] | None = None  # read at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        now = clock()
        address = client_address(scope)
        if not self._route_takes_a_key(scope):
            if not self.public.allow(address, now):
                retry = math.ceil(1 / self.public.rate)
                await _too_many(send, retry, "too many requests from your address; slow down")
                return
            await self.app(scope, receive, send)
            return
        if not any(name == b"authorization" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)  # refused at once, with no key to look up
            return
        until = self._blocked.get(address, 0.0)
        if until > now:
            message = "too many failed keys from your address; wait before trying again"
            await _too_many(send, math.ceil(until - now), message)
            return
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watched)
        if status == 401 and not self.failures.allow(address, clock()):
            self._block(address, clock() + FAILURE_WINDOW)

    def _route_takes_a_key(self, scope: Scope) -> bool:
        """Whether the route `scope` goes to takes a key; a path or method no route serves does not."""
        if self._keyed is None:
            self._keyed = keyed_operations(self.application)  # every route is included by now
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        return any(method in methods and pattern.match(scope["path"]) for pattern, methods in self._keyed)

    def _block(self, address: str, until: float) -> None:
        if len(self._blocked) >= MAX_ADDRESSES:
            now = clock()
            self._blocked = {a: t for a, t in self._blocked.items() if t > now}
            while len(self._blocked) >= MAX_ADDRESSES:  # still full: forget the earliest blocked
                del self._blocked[next(iter(self._blocked))]
        self._blocked[address] = until


async def _too_many(send: Send, retry_after: int, message: str) -> None:
    body = json.dumps(error_body("client.rate_limited", message)).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(max(1, retry_after)).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_address_limits(app: FastAPI, settings: Settings) -> None:
    """Add the per-address limits to `app`, outermost, after the forwarded-address check they rely on.

    Call it after every other middleware is added (the last added runs first): a request over its
    address's limit is refused before anything reads its body.
    """
    app.add_middleware(AddressLimits, settings=settings, application=app)
    proxies = trusted_proxies(settings.trusted_proxies)
    if proxies:
        # uvicorn's own middleware, run by the application rather than by the server, so that the
        # setting decides whatever serves the app (lgsp/api/server.py turns the server's copy off).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)

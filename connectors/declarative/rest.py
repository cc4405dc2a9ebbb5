"""A REST source: each service one call of an existing HTTP API, its answer the API's JSON.

The upstream's statuses become the stable fault codes: 400 and 422 `client.bad_request`, 404
`client.not_found`, 502-504 and a connection that fails `server.provider_unreachable`, no answer within
the service's timeout `server.timeout`, anything else `server.provider_error` with the status.
"""

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from connectors.declarative.config import RestService, RestSource
from connectors.declarative.health import Health
from connectors.declarative.secrets import SourceError, resolve
from connectors.faults import ServiceFault

log = logging.getLogger(__name__)
#: Statuses of a gateway whose upstream is away: worth a retry, and `server.provider_unreachable`.
UNREACHABLE = {502, 503, 504}
#: Methods a retry cannot apply twice.
IDEMPOTENT = {"GET", "PUT", "DELETE"}
CLIENT_FAULTS = {400: "client.bad_request", 422: "client.bad_request", 404: "client.not_found"}


class RestBackend:
    """The HTTP client of one REST source and how its services answer."""

    def __init__(self, source: RestSource, base: Path) -> None:
        self.source = source
        self.health = Health(source.name)
        headers = {k: v if isinstance(v, str) else resolve(v, base) for k, v in source.headers.items()}
        # Each service's own timeout bounds a call (asyncio.timeout); httpx bounds only the connection.
        timeout = httpx.Timeout(None, connect=5.0)
        self.client = httpx.AsyncClient(base_url=source.base_url, headers=headers, timeout=timeout)

    async def check(self) -> None:
        """One request to the base URL: any HTTP answer will do; SourceError if none comes."""
        try:
            await self.client.get("", timeout=5.0)
        except httpx.HTTPError as exc:
            raise SourceError(
                f"source {self.source.name}: cannot reach {self.source.base_url} ({exc!r})"
            ) from None

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    async def answer(self, service: RestService, payload: dict[str, Any]) -> dict[str, Any]:
        """Call the upstream for `payload`: its JSON object (a list as `{"items": [...]}`), or a fault."""
        request = self._request(service, payload)
        try:
            async with asyncio.timeout(service.timeout_ms / 1000):
                response = await self._send(service, request)
        except TimeoutError:
            raise ServiceFault(
                "server.timeout", f"{service.code}: no answer within {service.timeout_ms} ms"
            ) from None
        except httpx.HTTPError as exc:
            raise self.health.unreachable(f"cannot reach the API ({type(exc).__name__})") from None
        if response.status_code in UNREACHABLE:
            raise self.health.unreachable(f"the API answered {response.status_code}")
        self.health.answered()
        if response.status_code >= 400:
            code = CLIENT_FAULTS.get(response.status_code, "server.provider_error")
            raise ServiceFault(code, f"{service.code}: the API answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ServiceFault(
                "server.provider_error", f"{service.code}: the API's answer is not JSON"
            ) from None
        if isinstance(body, list):
            return {"items": body}
        if not isinstance(body, dict):
            raise ServiceFault(
                "server.provider_error", f"{service.code}: the API answered a JSON {type(body).__name__}"
            )
        return body

    def _request(self, service: RestService, payload: dict[str, Any]) -> httpx.Request:
        try:
            path = service.path.format_map({k: quote(str(v), safe="") for k, v in payload.items()})
        except KeyError as exc:
            raise ServiceFault(
                "client.bad_request", f"{service.code}: the path needs {exc.args[0]}"
            ) from None
        params = {name: _text(payload[name]) for name in service.query if name in payload}
        body = payload if service.body == "all" else {k: payload[k] for k in service.body if k in payload}
        sends_body = service.body == "all" or bool(service.body)
        return self.client.build_request(
            service.method, path, params=params, json=body if sends_body else None
        )

    async def _send(self, service: RestService, request: httpx.Request) -> httpx.Response:
        """Send, trying again up to `retries` times after a failed connection (the request never left) or,
        for a method that cannot apply twice, a gateway's 502-504."""
        for attempt in range(service.retries + 1):
            last = attempt == service.retries
            try:
                response = await self.client.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if last:
                    raise
            else:
                if last or response.status_code not in UNREACHABLE or service.method not in IDEMPOTENT:
                    return response
                await response.aclose()
            await asyncio.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _text(value: Any) -> str:
    """A request field as a query parameter: JSON's true and false as such, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

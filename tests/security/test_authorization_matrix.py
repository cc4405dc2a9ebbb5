"""The authorization matrix: every endpoint the hub serves, called by every kind of caller.

The expected answers follow docs/architecture/design.md (sections 7 and 8) and the API table: public endpoints
(health, metrics, dashboard, indicators) are open to anyone; everything else under /api/v1 needs a key
(none, revoked, malformed or forged: 401) of a role allowed to use it (otherwise 403, never 2xx).
Admins do everything; integrators change only their own agency's systems and read the registry;
operators and auditors only read; a system key reads only its own system, reads the catalogue, and is the
only key that makes exchanges. An allowed caller gets the endpoint's own answer (a 404 for the random
dossier id), never 401/403 nor a 422 that would hide the decision. Where an endpoint hides what a caller
may not see (another party's exchange evidence), that caller gets a 404, as if it did not exist. The bus
trust anchor (the platform's public keys) is public.

A route the application serves without a row here fails the test, so no new endpoint escapes the matrix.
Every test runs against SQLite and PostgreSQL (see the `database_url` fixture).
"""

import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, routing

from tests.support import ADMIN_TOKEN, Hub, make_agency

# --- who calls --------------------------------------------------------------------------------------------

ROLES = (
    "admin",  # the bootstrap token (LGSP_ADMIN_TOKEN)
    "admin_key",  # an admin key issued with POST /api/v1/keys
    "integrator_own",  # integrator of AG-A, the agency owning the system in the path (SYS-A)
    "integrator_other",  # integrator of AG-B
    "operator",
    "auditor",
    "system_own",  # SYS-A's own key: the system in the path
    "system_other",  # SYS-B's key
    "no_key",  # no Authorization header
    "revoked",  # an operator key, revoked
    "malformed",  # not an LGSP key at all
    "forged",  # the admin key's lookup part with a wrong secret
)
UNAUTHENTICATED = frozenset({"no_key", "revoked", "malformed", "forged"})
EVERYONE = frozenset(ROLES)
ANY_KEY = EVERYONE - UNAUTHENTICATED
ADMINS = frozenset({"admin", "admin_key"})
OWNERS = ADMINS | {"integrator_own"}  # admin, or an integrator of the system's agency
PEOPLE = OWNERS | {"integrator_other", "operator", "auditor"}  # every person's key: they read the registry
OWN_SYSTEM = PEOPLE | {"system_own"}  # ... and the system's own key
OVERSIGHT = ADMINS | {"operator", "auditor"}  # dossiers, reports, the audit chain
SYSTEMS = frozenset({"system_own", "system_other"})
#: A source names an agency's database hosts and users: not for other agencies' integrators.
SOURCE_READERS = OWN_SYSTEM - {"integrator_other"}

#: FastAPI's own documentation routes: public (docs/architecture/design.md section 8), not in the matrix.
DOCS_ROUTES = frozenset(
    {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}
)

# --- what an allowed caller gets --------------------------------------------------------------------------

Check = Callable[[httpx.Response, "World", str], str | None]
"""Return what is wrong with a 2xx answer given to `role`, or None."""


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _missing(item: Any, keys: Iterable[str]) -> str | None:
    if not isinstance(item, dict):
        return f"not an object: {str(item)[:80]}"
    absent = [k for k in keys if k not in item]
    return f"lacks {absent}" if absent else None


def obj(*keys: str) -> Check:
    """A JSON object with `keys`."""
    return lambda response, world, role: _missing(_json(response), keys)


def items(*keys: str) -> Check:
    """A JSON list of objects with `keys`."""

    def check(response: httpx.Response, world: "World", role: str) -> str | None:
        body = _json(response)
        if not isinstance(body, list):
            return f"not a list: {response.text[:80]}"
        return next((m for m in (_missing(i, keys) for i in body) if m), None)

    return check


def page(*keys: str) -> Check:
    """A page (`items`, `total`, `limit`, `offset`) of objects with `keys`."""

    def check(response: httpx.Response, world: "World", role: str) -> str | None:
        body = _json(response)
        problem = _missing(body, ("items", "total", "limit", "offset"))
        if problem or not isinstance(body["items"], list):
            return problem or "items is not a list"
        return next((m for m in (_missing(i, keys) for i in body["items"]) if m), None)

    return check


def content(media_type: str, marker: str) -> Check:
    """A `media_type` document containing `marker`."""

    def check(response: httpx.Response, world: "World", role: str) -> str | None:
        if not response.headers.get("content-type", "").startswith(media_type):
            return f"content-type {response.headers.get('content-type')!r}, not {media_type}"
        return None if marker in response.text else f"no {marker!r} in the body"

    return check


def empty(response: httpx.Response, world: "World", role: str) -> str | None:
    return None if not response.content else f"a body on {response.status_code}: {response.text[:80]}"


def key_metadata(response: httpx.Response, world: "World", role: str) -> str | None:
    """Every key's metadata, and never a secret."""
    problem = items("id", "role", "agency_code", "system_id", "revoked_at")(response, world, role)
    return problem or ("a secret in the key list" if "lgsp_" in response.text else None)


def scoped_exchanges(response: httpx.Response, world: "World", role: str) -> str | None:
    """Exchange records, of the caller's own systems only for integrators and system keys.

    The POST /exchange row, run before, left one record of SYS-A (by `system_own`) and one of SYS-B.
    """
    problem = page("id", "client", "provider", "service", "outcome")(response, world, role)
    if problem:
        return problem
    seen = {code for r in response.json()["items"] for code in (r["client"], r["provider"])}
    a, b = world.code_a, world.code_b
    expected = {"integrator_own": {a}, "system_own": {a}, "integrator_other": {b}, "system_other": {b}}
    visible = expected.get(role, {a, b})
    if not visible <= seen:
        return f"does not show the exchanges of {sorted(visible - seen)}"
    foreign = ({a, b} - visible) & seen
    return f"shows the exchanges of {sorted(foreign)}" if foreign else None


# --- the matrix -------------------------------------------------------------------------------------------

Body = Callable[[dict[str, str], int], dict[str, Any]]
"""The JSON body of a call, from the path parameters it uses and a serial number (for unique codes)."""


@dataclass(frozen=True)
class Rule:
    """Who may call an endpoint and what they get."""

    allowed: frozenset[str]
    ok: frozenset[int]  # the statuses an allowed caller may get
    check: Check | None = None  # what a 2xx answer must look like
    body: Body | None = None
    fresh: bool = False  # destructive: each allowed caller acts on objects made for it alone
    hidden: frozenset[str] = frozenset()  # callers told 404 (not 403): the object is not theirs to see
    query: dict[str, str] | None = None  # the query string of the call


def rule(
    allowed: frozenset[str],
    *ok: int,
    check: Check | None = None,
    body: Body | None = None,
    fresh: bool = False,
    hidden: frozenset[str] = frozenset(),
    query: dict[str, str] | None = None,
) -> Rule:
    assert not allowed & hidden, "a caller is either allowed or hidden from"
    return Rule(allowed, frozenset(ok or (200,)), check, body, fresh, hidden, query)


def retired_or_asked(response: httpx.Response, world: "World", role: str) -> str | None:
    """An admin retires a system at once (204, no body); its agency's integrator asks (202, the pending
    scope request an admin decides)."""
    if role in ADMINS:
        return empty(response, world, role) if response.status_code == 204 else "an admin's retirement is 204"
    if response.status_code != 202:
        return "an integrator's retirement is a request: 202"
    return _missing(_json(response), ("id", "change", "status")) or (
        None if _json(response)["status"] == "pending" else "the request is not pending"
    )


def granted_or_asked(response: httpx.Response, world: "World", role: str) -> str | None:
    """An admin grants a national service at once (201, approved); an integrator asks (202, pending)."""
    expected = (201, "approved") if role in ADMINS else (202, "pending")
    body = _json(response)
    problem = _missing(body, ("id", "provider", "service", "status"))
    if problem:
        return problem
    return None if (response.status_code, body["status"]) == expected else f"not {expected}"


SYS = "/api/v1/systems/{system_id}"
SYSTEM = ("id", "code", "name", "agency_code", "level", "kind", "exempt")
SERVICE = ("id", "code", "provider")
GRANT = ("id", "service", "client_system", "client_agency")
SOURCE_STATUS = ("name", "state", "error", "reported_at", "connector", "target", "restarts")


def rest_source(suffix: str) -> dict[str, Any]:
    """A REST source serving one service (a database source would need a database)."""
    return {
        "kind": "rest",
        "name": f"src-{suffix}",
        "base_url": "https://api.example.gov.vn",
        "services": [{"code": f"src.{suffix}", "path": "/x"}],
    }


MATRIX: dict[tuple[str, str], Rule] = {
    # Public (docs/architecture/design.md section 8): health, metrics, the dashboard and the indicators.
    ("GET", "/healthz"): rule(EVERYONE, check=obj("status")),
    ("GET", "/readyz"): rule(EVERYONE, 200, 503, check=obj("status", "checks")),
    ("GET", "/metrics"): rule(EVERYONE, check=content("text/plain", "# HELP")),
    ("GET", "/"): rule(EVERYONE, check=content("text/html", "<html")),
    ("GET", "/api/v1/indicators"): rule(EVERYONE, check=obj("as_of", "connectivity", "once_only")),
    # Agencies: admin registers; any key reads (README, API table).
    ("POST", "/api/v1/agencies"): rule(
        ADMINS,
        201,
        check=obj("code", "name", "level", "created_at"),
        body=lambda p, n: {"code": f"AG-N{n}", "name": f"Agency {n}", "level": "commune"},
    ),
    ("GET", "/api/v1/agencies"): rule(ANY_KEY, check=items("code", "name", "level")),
    # Systems: integrators act on their own agency's systems only; people read the registry; a system
    # key reads only its own system.
    ("POST", "/api/v1/systems"): rule(
        OWNERS,
        201,
        check=obj(*SYSTEM, "api_key"),
        body=lambda p, n: {"code": f"NEW-{n}", "name": f"New system {n}", "agency_code": "AG-A"},
    ),
    ("GET", "/api/v1/systems"): rule(PEOPLE, check=page(*SYSTEM)),
    ("GET", SYS): rule(OWN_SYSTEM, check=obj(*SYSTEM)),
    ("PATCH", SYS): rule(OWNERS, check=obj(*SYSTEM), body=lambda p, n: {"description": f"edit {n}"}),
    # Retiring takes a system out of the connectivity count: an admin does, an integrator asks.
    ("DELETE", SYS): rule(OWNERS, 202, 204, check=retired_or_asked, fresh=True, query={"reason": "matrix"}),
    # Scope changes asked for and made: oversight reads them all, integrators their agency's (another
    # agency's request is not theirs to see); only an admin decides (this one was decided already).
    ("GET", "/api/v1/scope-requests"): rule(PEOPLE, check=page("id", "change", "status")),
    ("GET", "/api/v1/scope-requests/{request_id}"): rule(
        OVERSIGHT | {"integrator_own"},
        check=obj("id", "change", "status", "requested_by"),
        hidden=frozenset({"integrator_other"}),
    ),
    ("POST", "/api/v1/scope-requests/{request_id}/decision"): rule(
        ADMINS, 409, body=lambda p, n: {"approve": False, "note": f"matrix {n}"}
    ),
    ("POST", f"{SYS}/key"): rule(OWNERS, 201, check=obj("api_key"), fresh=True),
    ("GET", f"{SYS}/status"): rule(OWN_SYSTEM, check=obj("system_id", "code", "lgsp_connected")),
    ("GET", "/api/v1/connectivity/systems"): rule(PEOPLE, check=page("system_id", "code", "lgsp_connected")),
    # People's keys: admin only.
    ("POST", "/api/v1/keys"): rule(
        ADMINS,
        201,
        check=obj("id", "role", "api_key"),
        body=lambda p, n: {"role": "auditor", "label": f"matrix {n}"},
    ),
    ("GET", "/api/v1/keys"): rule(ADMINS, check=key_metadata),
    ("DELETE", "/api/v1/keys/{key_id}"): rule(ADMINS, 204, check=empty, fresh=True),
    # The catalogue: its owners change it; any key reads what a system offers (the hub's services.list
    # metaservice tells any system as much); grants and a client's allowed services are the system's own.
    ("POST", f"{SYS}/services"): rule(
        OWNERS, 201, check=obj(*SERVICE), body=lambda p, n: {"code": f"svc.n{n}", "description": "x"}
    ),
    ("GET", f"{SYS}/services"): rule(ANY_KEY, check=items(*SERVICE)),
    ("DELETE", f"{SYS}/services/{{code}}"): rule(OWNERS, 204, check=empty, fresh=True),
    ("POST", f"{SYS}/grants"): rule(
        OWNERS,
        201,
        check=obj(*GRANT),
        body=lambda p, n: {"service": p["code"], "client_agency": "AG-B"},
        fresh=True,
    ),
    ("GET", f"{SYS}/grants"): rule(OWN_SYSTEM, check=items(*GRANT)),
    ("DELETE", f"{SYS}/grants/{{grant_id}}"): rule(OWNERS, 204, check=empty, fresh=True),
    ("GET", f"{SYS}/allowed-services"): rule(OWN_SYSTEM, check=items(*SERVICE)),
    # Sources stored on the hub: changed by their system's owners, read as the registry is; their status
    # reported by the system's own key alone, which alone reads the sources its connector runs.
    ("POST", f"{SYS}/sources"): rule(
        OWNERS, 201, check=obj("name", "kind", "system", "config"), body=lambda p, n: rest_source(f"n{n}")
    ),
    ("GET", f"{SYS}/sources"): rule(SOURCE_READERS, check=items("name", "kind", "target")),
    ("GET", f"{SYS}/sources/{{name}}"): rule(SOURCE_READERS, check=obj("name", "config")),
    ("DELETE", f"{SYS}/sources/{{name}}"): rule(OWNERS, 204, check=empty, fresh=True),
    ("GET", f"{SYS}/sources/{{name}}/status"): rule(SOURCE_READERS, check=obj(*SOURCE_STATUS)),
    ("PUT", f"{SYS}/sources/{{name}}/status"): rule(
        frozenset({"system_own"}),
        check=obj(*SOURCE_STATUS),
        body=lambda p, n: {"state": "RUNNING", "connector": f"matrix {n}"},
    ),
    ("POST", f"{SYS}/sources/{{name}}/restart"): rule(OWNERS, 202, check=obj(*SOURCE_STATUS)),
    ("PUT", f"{SYS}/sources/{{name}}/pause"): rule(OWNERS, 202, check=obj(*SOURCE_STATUS)),
    ("PUT", f"{SYS}/sources/{{name}}/resume"): rule(OWNERS, 202, check=obj(*SOURCE_STATUS)),
    ("GET", "/api/v1/connector/sources"): rule(SYSTEMS, check=obj("system_id", "system", "sources")),
    # Services beyond the province: an admin grants, an integrator asks for its own agency, only an admin
    # decides (this one was decided already); the client's agency may withdraw (another's is told 404).
    ("POST", "/api/v1/national-grants"): rule(
        OWNERS,
        201,
        202,
        check=granted_or_asked,
        body=lambda p, n: {"client_agency": "AG-A", "provider": "VN/DAN-CU", "service": f"svc.n{n}"},
    ),
    ("GET", "/api/v1/national-grants"): rule(PEOPLE, check=page("id", "provider", "service", "status")),
    ("POST", "/api/v1/national-grants/{national_grant_id}/decision"): rule(
        ADMINS, 409, body=lambda p, n: {"approve": False}
    ),
    ("DELETE", "/api/v1/national-grants/{national_grant_id}"): rule(
        OWNERS, 204, check=empty, fresh=True, hidden=frozenset({"integrator_other"})
    ),
    # Exchanges: only a system's own key makes them (the hub's metaservice needs no grant); everyone with
    # a key reads the records, integrators and systems only their own. This order matters: the records
    # the POST leaves are what the GET's check looks for.
    ("POST", "/api/v1/exchange"): rule(
        SYSTEMS,
        check=obj("exchange_id", "provider", "service", "payload"),
        body=lambda p, n: {"provider": "LGSP", "service": "systems.list", "payload": {}},
    ),
    ("GET", "/api/v1/exchanges"): rule(ANY_KEY, check=scoped_exchanges),
    # The signatures behind an exchange of SYS-A (made over REST by SYS-A, answered by the hub): any key
    # of one of its parties or of oversight; another agency's integrator or another system is told 404.
    ("GET", "/api/v1/exchanges/{exchange_id}/evidence"): rule(
        ANY_KEY - {"integrator_other", "system_other"},
        check=obj("exchange_id", "client", "provider", "request", "response", "verified"),
        hidden=frozenset({"integrator_other", "system_other"}),
    ),
    # The platform's public keys, which connectors check the hub's and the NGSP's messages with: public.
    ("GET", "/api/v1/bus/trust"): rule(EVERYONE, check=obj("anchor", "keys")),
    # Once-only dossiers, the reports and the audit chain: admins, operators and auditors.
    ("GET", "/api/v1/dossiers"): rule(OVERSIGHT, check=page("id", "procedure")),
    ("GET", "/api/v1/dossiers/{dossier_id}"): rule(OVERSIGHT, 404),  # a random id: found by nobody
    ("GET", "/api/v1/reports/once-only"): rule(OVERSIGHT, check=obj("measures", "by_procedure", "by_cause")),
    ("GET", "/api/v1/reports/connectivity"): rule(OVERSIGHT, check=obj("province", "systems", "exempt")),
    ("GET", "/api/v1/audit/verify"): rule(OVERSIGHT, check=obj("ok", "links")),
    # The data tracker: the purposes and the citizen's page are public; a person's accesses are theirs
    # alone, read with their identity provider's token, never with a key of the platform (every key is
    # refused); how often each purpose was given, for oversight.
    ("GET", "/api/v1/purposes"): rule(EVERYONE, check=items("code", "label_vi", "label_en")),
    ("GET", "/me"): rule(EVERYONE, check=content("text/html", "<html")),
    ("GET", "/api/v1/me/accesses"): rule(frozenset()),
    ("GET", "/api/v1/me/accesses.csv"): rule(frozenset()),
    ("GET", "/api/v1/reports/purposes"): rule(OVERSIGHT, check=obj("from", "to", "purposes")),
}


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the application serves, from its routes and its OpenAPI schema."""
    # FastAPI 0.165 keeps included routers as branches of app.routes; iter_route_contexts flattens them.
    flatten: Callable[[Any], Iterable[Any]] = getattr(routing, "iter_route_contexts", lambda rs: rs)
    served = {
        (method, str(route.path))
        for route in flatten(app.routes)
        if getattr(route, "path", None) is not None
        for method in getattr(route, "methods", None) or ()
        if method != "HEAD"
    }
    schema_paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    served |= {(method.upper(), path) for path, operations in schema_paths.items() for method in operations}
    return served - DOCS_ROUTES


# --- the world the matrix runs in -------------------------------------------------------------------------


@dataclass
class World:
    """Two agencies with a system each, a service of SYS-A granted to SYS-B, and a key for every role."""

    hub: Hub
    tokens: dict[str, str | None]
    params: dict[str, str]  # path parameters naming SYS-A and its objects
    code_a: str = "SYS-A"
    code_b: str = "SYS-B"
    serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def admin(self, method: str, url: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.hub.client.request(method, url, json=json)
        assert response.status_code == 201, f"{method} {url}: {response.text}"
        body: dict[str, Any] = response.json()
        return body

    async def fresh(self) -> dict[str, str]:
        """A new system of AG-A with a service granted to SYS-B, and a new auditor key: for one caller
        of a destructive endpoint."""
        n = next(self.serial)
        system = await self.admin(
            "POST", "/api/v1/systems", {"code": f"FRESH-{n}", "name": f"Fresh {n}", "agency_code": "AG-A"}
        )
        base = f"/api/v1/systems/{system['id']}"
        await self.admin("POST", f"{base}/services", {"code": "fresh.svc"})
        grant = await self.admin("POST", f"{base}/grants", {"service": "fresh.svc", "client_system": "SYS-B"})
        key = await self.admin("POST", "/api/v1/keys", {"role": "auditor", "label": f"fresh {n}"})
        beyond = {"client_system": f"FRESH-{n}", "provider": "VN/DAN-CU", "service": "citizen.get"}
        national = await self.admin("POST", "/api/v1/national-grants", beyond)
        source = await self.admin("POST", f"{base}/sources", rest_source(f"fresh{n}"))
        return self.params | {
            "name": source["name"],
            "system_id": str(system["id"]),
            "code": "fresh.svc",
            "grant_id": str(grant["id"]),
            "key_id": str(key["id"]),
            "national_grant_id": str(national["id"]),
        }


async def build_world(hub: Hub) -> World:
    world = World(hub, {}, {})
    await make_agency(hub.client, "AG-A")
    await make_agency(hub.client, "AG-B", level="commune")

    async def key(role: str, agency: str | None = None) -> dict[str, Any]:
        return await world.admin("POST", "/api/v1/keys", {"role": role, "agency_code": agency, "label": role})

    admin_key = await key("admin")
    revoked = await key("operator")
    response = await hub.client.delete(f"/api/v1/keys/{revoked['id']}")
    assert response.status_code == 204, response.text
    victim = await key("auditor")  # the key refused callers try to revoke
    sys_a = await world.admin(
        "POST", "/api/v1/systems", {"code": "SYS-A", "name": "A", "agency_code": "AG-A"}
    )
    sys_b = await world.admin(
        "POST", "/api/v1/systems", {"code": "SYS-B", "name": "B", "agency_code": "AG-B"}
    )
    base = f"/api/v1/systems/{sys_a['id']}"
    await world.admin("POST", f"{base}/services", {"code": "matrix.echo"})
    grant = await world.admin("POST", f"{base}/grants", {"service": "matrix.echo", "client_system": "SYS-B"})
    source = await world.admin("POST", f"{base}/sources", rest_source("matrix"))
    lookup = admin_key["api_key"].split("_")[1]
    world.tokens = {
        "admin": ADMIN_TOKEN,
        "admin_key": admin_key["api_key"],
        "integrator_own": (await key("integrator", "AG-A"))["api_key"],
        "integrator_other": (await key("integrator", "AG-B"))["api_key"],
        "operator": (await key("operator"))["api_key"],
        "auditor": (await key("auditor"))["api_key"],
        "system_own": sys_a["api_key"],
        "system_other": sys_b["api_key"],
        "no_key": None,
        "revoked": revoked["api_key"],
        "malformed": "not-an-lgsp-key",
        "forged": f"lgsp_{lookup}_{'x' * 43}",
    }
    exchange = await hub.client.post(
        "/api/v1/exchange",
        json={"provider": "LGSP", "service": "systems.list", "payload": {}},
        headers={"Authorization": f"Bearer {sys_a['api_key']}"},
    )
    assert exchange.status_code == 200, exchange.text
    # A scope change of AG-A (an admin's retirement, recorded approved) and a national grant to AG-A.
    gone = await world.admin(
        "POST", "/api/v1/systems", {"code": "GONE-A", "name": "Gone", "agency_code": "AG-A"}
    )
    retired = await hub.client.delete(f"/api/v1/systems/{gone['id']}", params={"reason": "matrix"})
    assert retired.status_code == 204, retired.text
    requests = await hub.client.get("/api/v1/scope-requests", params={"system_id": gone["id"]})
    (scope_request,) = requests.json()["items"]
    national = await world.admin(
        "POST",
        "/api/v1/national-grants",
        {"client_agency": "AG-A", "provider": "VN/DAN-CU", "service": "citizen.get"},
    )
    world.params = {
        "system_id": str(sys_a["id"]),
        "code": "matrix.echo",
        "grant_id": str(grant["id"]),
        "key_id": str(victim["id"]),
        "dossier_id": str(uuid.uuid4()),
        "exchange_id": str(exchange.json()["exchange_id"]),
        "request_id": str(scope_request["id"]),
        "national_grant_id": str(national["id"]),
        "name": source["name"],
    }
    return world


# --- calling and judging ----------------------------------------------------------------------------------


HEADER = ("method", "path", "role", "expected", "got", "detail")
WIDTHS = (6, 46, 16, 20, 4, 0)


@dataclass(frozen=True)
class Mismatch:
    method: str
    path: str
    role: str
    expected: str
    got: int
    detail: str

    def line(self) -> str:
        cells = (self.method, self.path, self.role, self.expected, str(self.got), self.detail)
        return " ".join(cell.ljust(width) for cell, width in zip(cells, WIDTHS, strict=True)).rstrip()


async def call(world: World, method: str, template: str, role: str, spec: Rule) -> httpx.Response:
    allowed = role in spec.allowed
    params = await world.fresh() if spec.fresh and allowed else world.params
    json = spec.body(params, next(world.serial)) if spec.body is not None else None
    request = world.hub.client.build_request(method, template.format(**params), json=json, params=spec.query)
    token = world.tokens[role]
    if token is None:
        del request.headers["Authorization"]
    else:
        request.headers["Authorization"] = f"Bearer {token}"
    return await world.hub.client.send(request)


def judge(response: httpx.Response, world: World, role: str, spec: Rule) -> tuple[str, str | None]:
    """What `role` should have got, and what is wrong with `response` (None: as expected)."""
    status = response.status_code
    if role in spec.hidden:
        expected = "hidden 404"
        if status != 404 or (_json(response) or {}).get("error", {}).get("code") != "client.not_found":
            return expected, response.text[:160]
        return expected, None
    if role in spec.allowed:
        expected = "allowed " + "/".join(str(s) for s in sorted(spec.ok))
        if status not in spec.ok:
            return expected, response.text[:160]
        if 200 <= status < 300 and spec.check is not None:
            return expected, spec.check(response, world, role)
        return expected, None
    denied, code = (
        (401, "client.unauthenticated") if role in UNAUTHENTICATED else (403, "client.access_denied")
    )
    expected = f"refused {denied}"
    if status != denied:
        return expected, response.text[:160]
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or error.get("code") != code:
        return expected, f"not a {code} error: {response.text[:120]}"
    return expected, None


async def test_every_endpoint_answers_every_role_as_designed(hub: Hub) -> None:
    served = served_routes(hub.app)
    unlisted = sorted(served - MATRIX.keys())
    assert not unlisted, f"routes with no row in the authorization matrix: {unlisted}"
    gone = sorted(MATRIX.keys() - served)
    assert not gone, f"matrix rows for routes the hub does not serve: {gone}"

    world = await build_world(hub)
    mismatches: list[Mismatch] = []
    for (method, template), spec in MATRIX.items():
        # Refused callers first, on the shared objects: an allowed DELETE must not change what they see.
        for role in sorted(ROLES, key=spec.allowed.__contains__):
            response = await call(world, method, template, role, spec)
            expected, problem = judge(response, world, role, spec)
            if problem is not None:
                mismatches.append(Mismatch(method, template, role, expected, response.status_code, problem))

    header = " ".join(cell.ljust(width) for cell, width in zip(HEADER, WIDTHS, strict=True)).rstrip()
    table = "\n".join([header, *(m.line() for m in mismatches)])
    assert not mismatches, f"{len(mismatches)} answers differ from the authorization matrix:\n{table}"

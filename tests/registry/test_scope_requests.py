"""Scope changes (issue 16, "indicators the measured can bend"): an integrator can no longer take its own
systems out of the 100% count. Exempting, bringing back into scope and retiring are requests an admin
decides, recorded with who asked, why, and who decided; an admin's own change applies at once and is
recorded the same way; the connectivity report lists every scope change of its period.

Every test runs against SQLite and PostgreSQL (see the `database_url` fixture).
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import Hub, make_agency, make_system

SYSTEMS = "/api/v1/systems"
REQUESTS = "/api/v1/scope-requests"


def body_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def error_code(response: httpx.Response, status: int) -> str:
    code: str = body_of(response, status)["error"]["code"]
    return code


async def integrator(hub: Hub, agency: str) -> tuple[dict[str, str], int]:
    """An integrator key of `agency`: its headers and its key id."""
    issued = body_of(
        await hub.client.post("/api/v1/keys", json={"role": "integrator", "agency_code": agency}), 201
    )
    return hub.as_key(issued["api_key"]), issued["id"]


async def in_scope(hub: Hub) -> int:
    """How many systems the public connectivity indicator counts, once its cache (at most a second old)
    has seen the last change."""
    await asyncio.sleep(1.1)
    indicators = body_of(await hub.client.get("/api/v1/indicators", headers={"Authorization": ""}), 200)
    count: int = indicators["connectivity"]["lgsp"]["in_scope"]
    return count


async def test_an_integrator_asks_and_an_admin_decides(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")
    key, key_id = await integrator(hub, "SO-TP")
    ho_tich = await make_system(hub.client, "HO-TICH")
    bhxh = await make_system(hub.client, "BHXH")
    assert await in_scope(hub) == 2

    # Exempting its own system: a request, not a change. The system stays in scope and counted.
    asked = body_of(
        await hub.client.patch(
            f"{SYSTEMS}/{ho_tich['id']}",
            json={"exempt": True, "exempt_reason": "state secret", "description": "civil status"},
            headers=key,
        ),
        202,
    )
    assert {k: asked[k] for k in ("system_id", "system_code", "change", "reason", "status")} == {
        "system_id": ho_tich["id"],
        "system_code": "HO-TICH",
        "change": "exempt",
        "reason": "state secret",
        "status": "pending",
    }
    assert (asked["requested_by"], asked["requested_key"]) == ("integrator:SO-TP", f"key {key_id}")
    assert asked["decided_at"] is None and asked["decided_by"] is None
    system = body_of(await hub.client.get(f"{SYSTEMS}/{ho_tich['id']}"), 200)
    assert system["exempt"] is False
    assert system["description"] == "civil status"  # what is not scope applies at once
    assert await in_scope(hub) == 2

    # Retiring: a request too, with a reason; one pending request per system at a time.
    assert error_code(await hub.client.delete(f"{SYSTEMS}/{bhxh['id']}", headers=key), 422) == (
        "client.bad_request"
    )
    retire = body_of(
        await hub.client.delete(f"{SYSTEMS}/{bhxh['id']}", params={"reason": "replaced"}, headers=key), 202
    )
    assert (retire["change"], retire["reason"], retire["status"]) == ("retire", "replaced", "pending")
    again = await hub.client.delete(f"{SYSTEMS}/{bhxh['id']}", params={"reason": "really"}, headers=key)
    assert error_code(again, 409) == "client.conflict"
    assert body_of(await hub.client.get(f"{SYSTEMS}/{bhxh['id']}"), 200)["code"] == "BHXH"
    assert await in_scope(hub) == 2

    # The integrator sees its agency's requests; it may not decide them.
    pending = body_of(await hub.client.get(REQUESTS, params={"status": "pending"}, headers=key), 200)
    assert [r["system_code"] for r in pending["items"]] == ["HO-TICH", "BHXH"]
    decision = await hub.client.post(
        f"{REQUESTS}/{asked['id']}/decision", json={"approve": True}, headers=key
    )
    assert error_code(decision, 403) == "client.access_denied"

    # The admin approves the exemption: now it applies, with the reason asked for.
    approved = body_of(
        await hub.client.post(
            f"{REQUESTS}/{asked['id']}/decision", json={"approve": True, "note": "checked"}
        ),
        200,
    )
    assert (approved["status"], approved["decided_by"], approved["decided_key"]) == (
        "approved",
        "admin",
        "bootstrap token",
    )
    assert approved["decision_note"] == "checked" and approved["decided_at"] is not None
    system = body_of(await hub.client.get(f"{SYSTEMS}/{ho_tich['id']}"), 200)
    assert (system["exempt"], system["exempt_reason"]) == (True, "state secret")
    assert await in_scope(hub) == 1
    # The reason approved is the reason: the integrator may not rewrite it afterwards.
    rewritten = await hub.client.patch(
        f"{SYSTEMS}/{ho_tich['id']}", json={"exempt_reason": "nobody asked"}, headers=key
    )
    assert error_code(rewritten, 403) == "client.access_denied"
    decided_twice = await hub.client.post(f"{REQUESTS}/{asked['id']}/decision", json={"approve": False})
    assert error_code(decided_twice, 409) == "client.conflict"

    # It rejects the retirement: nothing changes.
    rejected = body_of(
        await hub.client.post(f"{REQUESTS}/{retire['id']}/decision", json={"approve": False, "note": "no"}),
        200,
    )
    assert rejected["status"] == "rejected"
    assert body_of(await hub.client.get(f"{SYSTEMS}/{bhxh['id']}"), 200)["code"] == "BHXH"
    assert await in_scope(hub) == 1

    # Bringing the exempt system back into scope is a scope change too: asked, with a reason.
    back = await hub.client.patch(f"{SYSTEMS}/{ho_tich['id']}", json={"exempt": False}, headers=key)
    assert error_code(back, 422) == "client.bad_request"
    back = await hub.client.patch(
        f"{SYSTEMS}/{ho_tich['id']}", json={"exempt": False}, params={"reason": "declassified"}, headers=key
    )
    assert body_of(back, 202)["change"] == "include"
    assert body_of(await hub.client.get(f"{SYSTEMS}/{ho_tich['id']}"), 200)["exempt"] is True


async def test_an_integrator_registering_an_exempt_system_gets_it_in_scope_and_a_request(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")
    key, _ = await integrator(hub, "SO-TP")
    registered = body_of(
        await hub.client.post(
            SYSTEMS,
            json={"code": "AN-NINH", "name": "Records", "exempt": True, "exempt_reason": "state secret"},
            headers=key,
        ),
        201,
    )
    assert registered["exempt"] is False
    request = registered["scope_request"]
    assert (request["change"], request["status"], request["reason"]) == ("exempt", "pending", "state secret")
    assert await in_scope(hub) == 1

    # An admin registering an exempt system exempts it at once, and the change is recorded as approved.
    secret = await make_system(hub.client, "MAT", exempt=True, exempt_reason="state secret")
    assert secret["exempt"] is True
    assert secret["scope_request"]["status"] == "approved"
    assert await in_scope(hub) == 1


async def test_an_admin_acts_at_once_and_every_change_is_in_the_connectivity_report(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")
    key, _ = await integrator(hub, "SO-TP")
    one = await make_system(hub.client, "ONE")
    two = await make_system(hub.client, "TWO")
    three = await make_system(hub.client, "THREE")

    made = await hub.client.patch(f"{SYSTEMS}/{one['id']}", json={"exempt": True, "exempt_reason": "secret"})
    assert body_of(made, 200)["exempt"] is True
    retired = await hub.client.delete(f"{SYSTEMS}/{two['id']}", params={"reason": "decommissioned"})
    assert retired.status_code == 204, retired.text
    asked = body_of(
        await hub.client.delete(f"{SYSTEMS}/{three['id']}", params={"reason": "moving"}, headers=key), 202
    )

    today = datetime.now(UTC).date()
    period = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    report = body_of(await hub.client.get("/api/v1/reports/connectivity", params=period), 200)
    changes = [
        (c["code"], c["change"], c["status"], c["reason"], c["requested_by"], c["decided_by"])
        for c in report["scope_changes"]
    ]
    assert changes == [
        ("ONE", "exempt", "approved", "secret", "admin", "admin"),
        ("TWO", "retire", "approved", "decommissioned", "admin", "admin"),
        ("THREE", "retire", "pending", "moving", "integrator:SO-TP", None),
    ]
    assert report["scope_changes"][2]["id"] == asked["id"]
    csv = await hub.client.get("/api/v1/reports/connectivity", params=period | {"format": "csv"})
    assert csv.status_code == 200
    assert "scope_changes,THREE,SO-TP,retire,pending,moving" in csv.text

    # A period before the changes lists none of them.
    earlier = {"from": (today - timedelta(days=2)).isoformat(), "to": (today - timedelta(days=1)).isoformat()}
    assert (
        body_of(await hub.client.get("/api/v1/reports/connectivity", params=earlier), 200)["scope_changes"]
        == []
    )


async def test_scope_requests_are_scoped_by_agency(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "SO-YT")
    mine, _ = await integrator(hub, "SO-TP")
    theirs, _ = await integrator(hub, "SO-YT")
    system = await make_system(hub.client, "HO-TICH")
    asked = body_of(
        await hub.client.delete(f"{SYSTEMS}/{system['id']}", params={"reason": "gone"}, headers=mine), 202
    )
    # Another agency's integrator neither acts on the system nor sees the request.
    refused = await hub.client.delete(f"{SYSTEMS}/{system['id']}", params={"reason": "x"}, headers=theirs)
    assert error_code(refused, 403) == "client.access_denied"
    assert body_of(await hub.client.get(REQUESTS, headers=theirs), 200)["items"] == []
    assert error_code(await hub.client.get(f"{REQUESTS}/{asked['id']}", headers=theirs), 404) == (
        "client.not_found"
    )
    assert body_of(await hub.client.get(f"{REQUESTS}/{asked['id']}", headers=mine), 200)["id"] == asked["id"]
    # Oversight reads every request; a system key reads none.
    auditor = body_of(await hub.client.post("/api/v1/keys", json={"role": "auditor"}), 201)["api_key"]
    assert body_of(await hub.client.get(REQUESTS, headers=hub.as_key(auditor)), 200)["total"] == 1
    own = hub.as_key(system["api_key"])
    assert error_code(await hub.client.get(REQUESTS, headers=own), 403) == "client.access_denied"
    # Once the admin retires the system directly, its pending request is closed as rejected.
    assert (await hub.client.delete(f"{SYSTEMS}/{system['id']}")).status_code == 204
    closed = body_of(await hub.client.get(f"{REQUESTS}/{asked['id']}"), 200)
    assert closed["status"] == "rejected" and "retired" in closed["decision_note"]

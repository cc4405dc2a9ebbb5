"""The registry REST API (/api/v1 agencies, systems and keys): answers, paging, errors and key scoping.

Every test runs against SQLite and PostgreSQL (see the `database_url` fixture).
"""

from typing import Any

import httpx
import pytest

from buscore.signing import HUB, NGSP, Trust
from tests.support import Hub, make_agency, make_system
from tests.support.signing import hub_signer_of, key_of, ngsp_signer_of

SYSTEMS = "/api/v1/systems"
KEYS = "/api/v1/keys"
AGENCIES = "/api/v1/agencies"


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """Assert `response` is an error of the API's one shape with `status` and `code`; return its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message.strip(), body
    return message


def bad_request(response: httpx.Response, *fragments: str) -> str:
    """Assert a 422 whose message names every one of `fragments`; return the message."""
    message = error_of(response, 422, "client.bad_request")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


async def make_key(hub: Hub, role: str, agency_code: str | None = None, label: str = "") -> dict[str, Any]:
    """Issue a person's key as admin and return the answer (with its one-time api_key)."""
    body: dict[str, Any] = {"role": role, "label": label}
    if agency_code is not None:
        body["agency_code"] = agency_code
    response = await hub.client.post(KEYS, json=body)
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    assert issued["api_key"].startswith("lgsp_")
    return issued


async def two_agencies(hub: Hub) -> None:
    """Agencies A-SO and B-SO."""
    await make_agency(hub.client, "A-SO")
    await make_agency(hub.client, "B-SO", level="commune")


# --- register, read, list ---------------------------------------------------------------------------------


async def test_register_answers_201_with_the_key_once(hub: Hub) -> None:
    await make_agency(hub.client)
    response = await hub.client.post(
        SYSTEMS,
        json={
            "code": "HO-TICH",
            "name": "Civil status",
            "agency_code": "SO-TP",
            "level": "commune",
            "kind": "database",
            "contact_email": "it@so-tp.example.vn",
            "description": "Births, marriages, deaths",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    api_key = created["api_key"]
    assert api_key.startswith("lgsp_")
    assert response.text.count(api_key) == 1
    assert response.text.count("lgsp_") == 1
    assert isinstance(created["id"], int)
    expected = {
        "code": "HO-TICH",
        "name": "Civil status",
        "agency_code": "SO-TP",
        "level": "commune",
        "kind": "database",
        "exempt": False,
        "exempt_reason": None,
        "contact_email": "it@so-tp.example.vn",
        "description": "Births, marriages, deaths",
    }
    assert {k: created[k] for k in expected} == expected
    assert created["created_at"] and created["updated_at"]

    # With it, the trust anchor its connector checks the hub's and the NGSP's bus messages with.
    assert_trust_anchor(hub, created["bus_trust"])
    assert (await hub.client.get("/api/v1/bus/trust")).json()["anchor"] == created["bus_trust"]

    got = await hub.client.get(f"{SYSTEMS}/{created['id']}")
    assert got.status_code == 200, got.text
    assert "api_key" not in got.json()
    assert api_key not in got.text
    # What only the registration answers: the key, the trust anchor, and no scope request (not exempt).
    assert created["scope_request"] is None
    assert {
        k: v for k, v in created.items() if k not in ("api_key", "bus_trust", "scope_request")
    } == got.json()

    listed = await hub.client.get(SYSTEMS)
    assert listed.status_code == 200
    assert api_key not in listed.text
    assert all("api_key" not in item for item in listed.json()["items"])

    keys = await hub.client.get(KEYS)
    assert keys.status_code == 200
    assert api_key not in keys.text
    system_keys = [k for k in keys.json() if k["system_id"] == created["id"]]
    assert len(system_keys) == 1
    assert system_keys[0]["role"] == "system"
    assert system_keys[0]["agency_code"] == "SO-TP"
    assert system_keys[0]["revoked_at"] is None
    assert not {"api_key", "digest", "lookup"} & set(system_keys[0])


def assert_trust_anchor(hub: Hub, anchor: str) -> None:
    """`anchor` holds the public keys of the hub and of the NGSP the hub trusts, and nothing else."""
    trust = Trust.parse(anchor)
    expected = {key_of(hub_signer_of(hub.settings)), key_of(ngsp_signer_of(hub.settings))}
    assert set(trust.keys.values()) == expected
    assert {key.owner for key in trust.keys.values()} == {HUB, NGSP}


async def test_register_defaults(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "MIN")
    assert created["level"] == "province"
    assert created["kind"] == "information_system"
    assert created["exempt"] is False
    assert created["exempt_reason"] is None
    assert created["contact_email"] is None
    assert created["description"] == ""


async def test_the_system_key_works_at_once(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH")
    response = await hub.client.get(f"{SYSTEMS}/{created['id']}", headers=hub.as_key(created["api_key"]))
    assert response.status_code == 200, response.text
    assert response.json()["code"] == "HO-TICH"


async def test_list_pages_and_filters(hub: Hub) -> None:
    await two_agencies(hub)
    ids = []
    for i in range(5):
        ids.append((await make_system(hub.client, f"A-SYS-{i}", agency="A-SO"))["id"])
    exempt = await make_system(
        hub.client, "B-SECRET", agency="B-SO", exempt=True, exempt_reason="state secret"
    )
    b_open = await make_system(hub.client, "B-OPEN", agency="B-SO")
    ids += [exempt["id"], b_open["id"]]
    assert ids == sorted(ids)

    everything = await hub.client.get(SYSTEMS)
    assert everything.status_code == 200, everything.text
    page = everything.json()
    assert page["total"] == 7
    assert page["limit"] == 100
    assert page["offset"] == 0
    assert [s["id"] for s in page["items"]] == ids

    first = (await hub.client.get(SYSTEMS, params={"limit": 3})).json()
    assert (first["total"], first["limit"], first["offset"]) == (7, 3, 0)
    assert [s["id"] for s in first["items"]] == ids[:3]
    second = (await hub.client.get(SYSTEMS, params={"limit": 3, "offset": 3})).json()
    assert (second["total"], second["limit"], second["offset"]) == (7, 3, 3)
    assert [s["id"] for s in second["items"]] == ids[3:6]
    last = (await hub.client.get(SYSTEMS, params={"limit": 3, "offset": 6})).json()
    assert [s["id"] for s in last["items"]] == ids[6:]
    beyond = (await hub.client.get(SYSTEMS, params={"offset": 50})).json()
    assert beyond["items"] == []
    assert beyond["total"] == 7

    of_a = (await hub.client.get(SYSTEMS, params={"agency_code": "A-SO"})).json()
    assert of_a["total"] == 5
    assert {s["agency_code"] for s in of_a["items"]} == {"A-SO"}
    of_b = (await hub.client.get(SYSTEMS, params={"agency_code": "B-SO", "limit": 1})).json()
    assert of_b["total"] == 2
    assert [s["code"] for s in of_b["items"]] == ["B-SECRET"]
    nobody = (await hub.client.get(SYSTEMS, params={"agency_code": "NOBODY"})).json()
    assert (nobody["total"], nobody["items"]) == (0, [])

    only_exempt = (await hub.client.get(SYSTEMS, params={"exempt": "true"})).json()
    assert only_exempt["total"] == 1
    assert [s["code"] for s in only_exempt["items"]] == ["B-SECRET"]
    assert only_exempt["items"][0]["exempt_reason"] == "state secret"
    in_scope = (await hub.client.get(SYSTEMS, params={"exempt": "false"})).json()
    assert in_scope["total"] == 6
    assert "B-SECRET" not in {s["code"] for s in in_scope["items"]}
    both = (await hub.client.get(SYSTEMS, params={"exempt": "false", "agency_code": "B-SO"})).json()
    assert both["total"] == 1
    assert [s["code"] for s in both["items"]] == ["B-OPEN"]


async def test_agencies_list_and_duplicate(hub: Hub) -> None:
    await make_agency(hub.client, "B-SO", level="commune")
    await make_agency(hub.client, "A-SO")
    listed = await hub.client.get(AGENCIES)
    assert listed.status_code == 200, listed.text
    assert [(a["code"], a["level"]) for a in listed.json()] == [("A-SO", "province"), ("B-SO", "commune")]
    again = await hub.client.post(AGENCIES, json={"code": "A-SO", "name": "Another", "level": "commune"})
    assert "A-SO" in error_of(again, 409, "client.conflict")
    assert [a["name"] for a in (await hub.client.get(AGENCIES)).json()] == ["Agency A-SO", "Agency B-SO"]


# --- update ------------------------------------------------------------------------------------------------


async def test_patch_changes_only_what_is_sent(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH", description="old", contact_email="a@b.example.vn")
    response = await hub.client.patch(
        f"{SYSTEMS}/{created['id']}", json={"name": "Renamed", "level": "commune", "kind": "database"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["level"], body["kind"]) == ("Renamed", "commune", "database")
    assert body["description"] == "old"
    assert body["contact_email"] == "a@b.example.vn"
    assert body["code"] == "HO-TICH"
    assert body["agency_code"] == "SO-TP"
    assert body["created_at"] == created["created_at"]
    assert body["updated_at"] >= created["updated_at"]
    assert "api_key" not in body
    got = (await hub.client.get(f"{SYSTEMS}/{created['id']}")).json()
    assert got == body


async def test_patch_exemption_rules(hub: Hub) -> None:
    await make_agency(hub.client)
    sid = (await make_system(hub.client, "HO-TICH"))["id"]
    url = f"{SYSTEMS}/{sid}"

    bad_request(await hub.client.patch(url, json={"exempt": True}), "exempt_reason")
    bad_request(await hub.client.patch(url, json={"exempt": True, "exempt_reason": "   "}), "exempt_reason")
    assert (await hub.client.get(url)).json()["exempt"] is False

    made_exempt = await hub.client.patch(url, json={"exempt": True, "exempt_reason": "state secret"})
    assert made_exempt.status_code == 200, made_exempt.text
    assert (made_exempt.json()["exempt"], made_exempt.json()["exempt_reason"]) == (True, "state secret")
    # Removing the reason of an exempt system is refused: the merged state counts, not the body alone.
    bad_request(await hub.client.patch(url, json={"exempt_reason": None}), "exempt_reason")
    # Changing something else keeps the exemption and its reason.
    renamed = await hub.client.patch(url, json={"name": "Secret registry"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["exempt"], renamed.json()["exempt_reason"]) == (True, "state secret")

    back = await hub.client.patch(url, json={"exempt": False})
    assert back.status_code == 200, back.text
    assert back.json()["exempt"] is False
    in_scope = (await hub.client.get(SYSTEMS, params={"exempt": "false"})).json()
    assert [s["id"] for s in in_scope["items"]] == [sid]


async def test_patch_reasserting_exemption_keeps_the_stored_reason(hub: Hub) -> None:
    await make_agency(hub.client)
    sid = (await make_system(hub.client, "HO-TICH", exempt=True, exempt_reason="state secret"))["id"]
    response = await hub.client.patch(f"{SYSTEMS}/{sid}", json={"exempt": True, "name": "Still secret"})
    assert response.status_code == 200, response.text
    assert (response.json()["exempt"], response.json()["exempt_reason"]) == (True, "state secret")


async def test_patch_can_clear_optional_fields(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH", contact_email="a@b.example.vn")
    response = await hub.client.patch(f"{SYSTEMS}/{created['id']}", json={"contact_email": None})
    assert response.status_code == 200, response.text
    assert response.json()["contact_email"] is None


# --- delete ------------------------------------------------------------------------------------------------


async def test_delete_retires_the_system_and_revokes_its_key(hub: Hub) -> None:
    await make_agency(hub.client)
    gone = await make_system(hub.client, "HO-TICH")
    kept = await make_system(hub.client, "DAT-DAI")
    url = f"{SYSTEMS}/{gone['id']}"
    assert (await hub.client.get(url, headers=hub.as_key(gone["api_key"]))).status_code == 200

    response = await hub.client.delete(url)
    assert response.status_code == 204, response.text
    assert response.content == b""

    error_of(await hub.client.get(url), 404, "client.not_found")
    error_of(await hub.client.get(f"{url}/status"), 404, "client.not_found")
    error_of(await hub.client.patch(url, json={"name": "Back"}), 404, "client.not_found")
    error_of(await hub.client.post(f"{url}/key"), 404, "client.not_found")
    error_of(await hub.client.delete(url), 404, "client.not_found")
    listed = (await hub.client.get(SYSTEMS)).json()
    assert listed["total"] == 1
    assert [s["id"] for s in listed["items"]] == [kept["id"]]

    revoked = await hub.client.get(url, headers=hub.as_key(gone["api_key"]))
    error_of(revoked, 401, "client.unauthenticated")
    assert revoked.headers["www-authenticate"] == "Bearer"
    key_rows = [k for k in (await hub.client.get(KEYS)).json() if k["system_id"] == gone["id"]]
    assert len(key_rows) == 1
    assert key_rows[0]["revoked_at"] is not None
    # The other system's key is untouched.
    other = await hub.client.get(f"{SYSTEMS}/{kept['id']}", headers=hub.as_key(kept["api_key"]))
    assert other.status_code == 200, other.text


# --- unknown ids, conflicts, bad bodies ---------------------------------------------------------------------


async def test_duplicate_system_code_is_409(hub: Hub) -> None:
    await two_agencies(hub)
    first = await make_system(hub.client, "HO-TICH", agency="A-SO")
    again = await hub.client.post(SYSTEMS, json={"code": "HO-TICH", "name": "Other", "agency_code": "B-SO"})
    assert "HO-TICH" in error_of(again, 409, "client.conflict")
    listed = (await hub.client.get(SYSTEMS)).json()
    assert [s["id"] for s in listed["items"]] == [first["id"]]
    # The failed attempt issued no key.
    assert [k["system_id"] for k in (await hub.client.get(KEYS)).json()] == [first["id"]]


# --- keys and authentication -------------------------------------------------------------------------------


async def test_keys_are_shown_once_and_listed_without_secrets(hub: Hub) -> None:
    await make_agency(hub.client, "A-SO")
    integrator = await make_key(hub, "integrator", "A-SO", label="alice")
    operator = await make_key(hub, "operator", "A-SO", label="bob")
    assert integrator["role"] == "integrator"
    assert integrator["agency_code"] == "A-SO"
    assert integrator["label"] == "alice"
    assert integrator["system_id"] is None
    assert integrator["revoked_at"] is None
    # Only integrators are scoped to an agency.
    assert operator["agency_code"] is None
    assert integrator["api_key"] != operator["api_key"]

    listed = await hub.client.get(KEYS)
    assert listed.status_code == 200, listed.text
    assert [(k["id"], k["label"]) for k in listed.json()] == [
        (integrator["id"], "alice"),
        (operator["id"], "bob"),
    ]
    for secret in (integrator["api_key"], operator["api_key"]):
        assert secret not in listed.text
        assert secret.split("_", 2)[2] not in listed.text
    assert all(not {"api_key", "digest", "lookup"} & set(k) for k in listed.json())


async def test_missing_key_is_401_with_www_authenticate(hub: Hub) -> None:
    await make_agency(hub.client)
    sid = (await make_system(hub.client, "HO-TICH"))["id"]
    anonymous = {"Authorization": ""}
    for method, url in [
        ("GET", SYSTEMS),
        ("GET", f"{SYSTEMS}/{sid}"),
        ("GET", f"{SYSTEMS}/{sid}/status"),
        ("PATCH", f"{SYSTEMS}/{sid}"),
        ("DELETE", f"{SYSTEMS}/{sid}"),
        ("POST", f"{SYSTEMS}/{sid}/key"),
        ("GET", KEYS),
        ("GET", AGENCIES),
    ]:
        kwargs: dict[str, Any] = {"json": {"name": "x"}} if method == "PATCH" else {}
        response = await hub.client.request(method, url, headers=anonymous, **kwargs)
        message = error_of(response, 401, "client.unauthenticated")
        assert "Bearer" in message
        assert response.headers["www-authenticate"] == "Bearer", (method, url)
    basic = await hub.client.get(SYSTEMS, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    error_of(basic, 401, "client.unauthenticated")
    assert basic.headers["www-authenticate"] == "Bearer"
    # Nothing changed.
    assert (await hub.client.get(f"{SYSTEMS}/{sid}")).json()["name"] == "System HO-TICH"


async def test_tampered_key_is_401(hub: Hub) -> None:
    await make_agency(hub.client)
    key = (await make_key(hub, "operator"))["api_key"]
    assert (await hub.client.get(SYSTEMS, headers=hub.as_key(key))).status_code == 200
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    error_of(await hub.client.get(SYSTEMS, headers=hub.as_key(tampered)), 401, "client.unauthenticated")


async def test_revoked_key_is_401(hub: Hub) -> None:
    await make_agency(hub.client, "A-SO")
    operator = await make_key(hub, "operator")
    integrator = await make_key(hub, "integrator", "A-SO")
    assert (await hub.client.get(SYSTEMS, headers=hub.as_key(operator["api_key"]))).status_code == 200

    response = await hub.client.delete(f"{KEYS}/{operator['id']}")
    assert response.status_code == 204, response.text
    revoked = await hub.client.get(SYSTEMS, headers=hub.as_key(operator["api_key"]))
    assert "revoked" in error_of(revoked, 401, "client.unauthenticated")
    assert revoked.headers["www-authenticate"] == "Bearer"
    # Revoking twice is harmless; the other key still works.
    assert (await hub.client.delete(f"{KEYS}/{operator['id']}")).status_code == 204
    assert (await hub.client.get(SYSTEMS, headers=hub.as_key(integrator["api_key"]))).status_code == 200
    rows = {k["id"]: k for k in (await hub.client.get(KEYS)).json()}
    assert rows[operator["id"]]["revoked_at"] is not None
    assert rows[integrator["id"]]["revoked_at"] is None


async def test_revoking_a_system_key_through_keys(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH")
    [row] = [k for k in (await hub.client.get(KEYS)).json() if k["system_id"] == created["id"]]
    assert (await hub.client.delete(f"{KEYS}/{row['id']}")).status_code == 204
    response = await hub.client.get(f"{SYSTEMS}/{created['id']}", headers=hub.as_key(created["api_key"]))
    error_of(response, 401, "client.unauthenticated")
    # The system itself is still registered.
    assert (await hub.client.get(f"{SYSTEMS}/{created['id']}")).status_code == 200


async def test_rotating_a_system_key(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH")
    url = f"{SYSTEMS}/{created['id']}"
    old = created["api_key"]

    response = await hub.client.post(f"{url}/key")
    assert response.status_code == 201, response.text
    assert set(response.json()) == {"api_key", "bus_trust"}
    assert_trust_anchor(hub, response.json()["bus_trust"])
    new = response.json()["api_key"]
    assert new.startswith("lgsp_")
    assert new != old

    error_of(await hub.client.get(url, headers=hub.as_key(old)), 401, "client.unauthenticated")
    fresh = await hub.client.get(url, headers=hub.as_key(new))
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["id"] == created["id"]
    assert (await hub.client.get(f"{url}/status", headers=hub.as_key(new))).status_code == 200

    rows = [k for k in (await hub.client.get(KEYS)).json() if k["system_id"] == created["id"]]
    assert [k["revoked_at"] is None for k in rows] == [False, True]
    assert all(k["role"] == "system" for k in rows)

    # Rotating again revokes the second key too.
    third = (await hub.client.post(f"{url}/key")).json()["api_key"]
    error_of(await hub.client.get(url, headers=hub.as_key(new)), 401, "client.unauthenticated")
    assert (await hub.client.get(url, headers=hub.as_key(third))).status_code == 200


async def test_status_of_a_fresh_system(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH")
    response = await hub.client.get(f"{SYSTEMS}/{created['id']}/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["system_id"] == created["id"]
    assert body["code"] == "HO-TICH"
    assert body["in_scope"] is True
    assert body["lgsp_connected"] is False
    assert body["ngsp_connected"] is False
    assert body["last_heartbeat_at"] is None
    assert body["last_probe_ok_at"] is None
    assert "api_key" not in body


async def test_status_of_an_exempt_system_is_out_of_scope(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "MAT", exempt=True, exempt_reason="state secret")
    response = await hub.client.get(f"{SYSTEMS}/{created['id']}/status")
    assert response.status_code == 200, response.text
    assert response.json()["in_scope"] is False
    assert response.json()["lgsp_connected"] is False


# --- scoping by role ---------------------------------------------------------------------------------------


async def test_integrator_acts_on_its_own_agency(hub: Hub) -> None:
    await two_agencies(hub)
    key = hub.as_key((await make_key(hub, "integrator", "A-SO"))["api_key"])

    defaulted = await hub.client.post(SYSTEMS, json={"code": "A-ONE", "name": "One"}, headers=key)
    assert defaulted.status_code == 201, defaulted.text
    assert defaulted.json()["agency_code"] == "A-SO"
    assert defaulted.json()["api_key"].startswith("lgsp_")
    named = await hub.client.post(
        SYSTEMS, json={"code": "A-TWO", "name": "Two", "agency_code": "A-SO"}, headers=key
    )
    assert named.status_code == 201, named.text
    assert named.json()["agency_code"] == "A-SO"

    one = defaulted.json()["id"]
    patched = await hub.client.patch(f"{SYSTEMS}/{one}", json={"name": "One renamed"}, headers=key)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "One renamed"
    rotated = await hub.client.post(f"{SYSTEMS}/{one}/key", headers=key)
    assert rotated.status_code == 201, rotated.text

    # It reads the registry (every agency) like any person's key.
    assert (await hub.client.get(SYSTEMS, headers=key)).json()["total"] == 2
    assert (await hub.client.get(f"{SYSTEMS}/{one}", headers=key)).status_code == 200
    assert (await hub.client.get(f"{SYSTEMS}/{one}/status", headers=key)).status_code == 200

    # Retiring takes the system out of the connectivity count: an integrator asks, with a reason, and an
    # admin decides (tests/registry/test_scope_requests.py).
    asked = await hub.client.delete(f"{SYSTEMS}/{one}", params={"reason": "replaced"}, headers=key)
    assert asked.status_code == 202, asked.text
    assert [s["code"] for s in (await hub.client.get(SYSTEMS)).json()["items"]] == ["A-ONE", "A-TWO"]
    decided = await hub.client.post(
        f"/api/v1/scope-requests/{asked.json()['id']}/decision", json={"approve": True}
    )
    assert decided.status_code == 200, decided.text
    assert [s["code"] for s in (await hub.client.get(SYSTEMS)).json()["items"]] == ["A-TWO"]


async def test_integrator_may_not_touch_another_agency(hub: Hub) -> None:
    await two_agencies(hub)
    key = hub.as_key((await make_key(hub, "integrator", "A-SO"))["api_key"])
    theirs = await make_system(hub.client, "B-SYS", agency="B-SO")
    url = f"{SYSTEMS}/{theirs['id']}"

    register = await hub.client.post(
        SYSTEMS, json={"code": "SNEAKY", "name": "x", "agency_code": "B-SO"}, headers=key
    )
    assert "B-SO" in error_of(register, 403, "client.access_denied")
    unknown = await hub.client.post(
        SYSTEMS, json={"code": "SNEAKY", "name": "x", "agency_code": "NOBODY"}, headers=key
    )
    error_of(unknown, 403, "client.access_denied")
    error_of(await hub.client.patch(url, json={"name": "Mine"}, headers=key), 403, "client.access_denied")
    error_of(await hub.client.delete(url, headers=key), 403, "client.access_denied")
    error_of(await hub.client.post(f"{url}/key", headers=key), 403, "client.access_denied")

    # Nothing changed: B's system is intact and its key still works; nothing was registered.
    got = await hub.client.get(url)
    assert got.status_code == 200
    assert got.json()["name"] == "System B-SYS"
    assert (await hub.client.get(url, headers=hub.as_key(theirs["api_key"]))).status_code == 200
    assert (await hub.client.get(SYSTEMS)).json()["total"] == 1


async def test_integrator_may_not_manage_keys_or_agencies(hub: Hub) -> None:
    await make_agency(hub.client, "A-SO")
    integrator = await make_key(hub, "integrator", "A-SO")
    key = hub.as_key(integrator["api_key"])
    error_of(await hub.client.post(KEYS, json={"role": "admin"}, headers=key), 403, "client.access_denied")
    error_of(await hub.client.get(KEYS, headers=key), 403, "client.access_denied")
    error_of(await hub.client.delete(f"{KEYS}/{integrator['id']}", headers=key), 403, "client.access_denied")
    agency = {"code": "C-SO", "name": "C"}
    error_of(await hub.client.post(AGENCIES, json=agency, headers=key), 403, "client.access_denied")
    assert [k["role"] for k in (await hub.client.get(KEYS)).json()] == ["integrator"]


@pytest.mark.parametrize("role", ["operator", "auditor"])
async def test_readers_read_but_may_not_write(hub: Hub, role: str) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH")
    url = f"{SYSTEMS}/{created['id']}"
    key = hub.as_key((await make_key(hub, role))["api_key"])

    listed = await hub.client.get(SYSTEMS, headers=key)
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 1
    assert (await hub.client.get(url, headers=key)).json()["code"] == "HO-TICH"
    assert (await hub.client.get(f"{url}/status", headers=key)).json()["lgsp_connected"] is False
    assert (await hub.client.get(AGENCIES, headers=key)).status_code == 200

    for response in [
        await hub.client.post(
            SYSTEMS, json={"code": "NEW", "name": "x", "agency_code": "SO-TP"}, headers=key
        ),
        await hub.client.post(SYSTEMS, json={"code": "NEW", "name": "x"}, headers=key),
        await hub.client.patch(url, json={"name": "Changed"}, headers=key),
        await hub.client.delete(url, headers=key),
        await hub.client.post(f"{url}/key", headers=key),
        await hub.client.post(KEYS, json={"role": "operator"}, headers=key),
        await hub.client.get(KEYS, headers=key),
        await hub.client.post(AGENCIES, json={"code": "C-SO", "name": "C"}, headers=key),
    ]:
        assert role in error_of(response, 403, "client.access_denied")

    after = await hub.client.get(url)
    assert after.status_code == 200
    assert after.json()["name"] == "System HO-TICH"
    assert (await hub.client.get(SYSTEMS)).json()["total"] == 1
    assert (await hub.client.get(url, headers=hub.as_key(created["api_key"]))).status_code == 200


async def test_system_key_reads_only_its_own_system(hub: Hub) -> None:
    await make_agency(hub.client)
    mine = await make_system(hub.client, "HO-TICH")
    other = await make_system(hub.client, "DAT-DAI")
    key = hub.as_key(mine["api_key"])
    url = f"{SYSTEMS}/{mine['id']}"

    own = await hub.client.get(url, headers=key)
    assert own.status_code == 200, own.text
    assert own.json()["code"] == "HO-TICH"
    status = await hub.client.get(f"{url}/status", headers=key)
    assert status.status_code == 200, status.text
    assert status.json()["system_id"] == mine["id"]

    other_url = f"{SYSTEMS}/{other['id']}"
    error_of(await hub.client.get(other_url, headers=key), 403, "client.access_denied")
    error_of(await hub.client.get(f"{other_url}/status", headers=key), 403, "client.access_denied")
    error_of(await hub.client.get(SYSTEMS, headers=key), 403, "client.access_denied")
    error_of(await hub.client.get(f"{SYSTEMS}/999999", headers=key), 403, "client.access_denied")

    # A system's key cannot change anything, not even its own system.
    error_of(await hub.client.patch(url, json={"name": "x"}, headers=key), 403, "client.access_denied")
    error_of(await hub.client.delete(url, headers=key), 403, "client.access_denied")
    error_of(await hub.client.post(f"{url}/key", headers=key), 403, "client.access_denied")
    new = {"code": "NEW", "name": "x"}
    error_of(await hub.client.post(SYSTEMS, json=new, headers=key), 403, "client.access_denied")
    error_of(await hub.client.get(KEYS, headers=key), 403, "client.access_denied")
    assert (await hub.client.get(url, headers=key)).status_code == 200
    assert (await hub.client.get(SYSTEMS)).json()["total"] == 2

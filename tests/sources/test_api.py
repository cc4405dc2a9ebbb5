"""The sources API on real SQLite and PostgreSQL hubs: a source stored declares its services in the
catalogue (all or none), a bad source is a 422 naming the field, and who may do what."""

from pathlib import Path
from typing import Any

import pytest

from tests.sources.support import births_db, civil_status, database_source, key
from tests.support import Hub

SERVICE = {"code": "birth-record.get", "request_schema": {"type": "object"}, "query": "SELECT 1 AS one"}


async def test_a_stored_source_declares_its_services_and_deleting_it_withdraws_them(
    hub: Hub, tmp_path: Path
) -> None:
    provider, _ = await civil_status(hub)
    url = f"/api/v1/systems/{provider['id']}"
    sent = database_source(births_db(tmp_path / "civil.db"))
    stored = await hub.client.post(f"{url}/sources", json=sent)
    assert stored.status_code == 201, stored.text
    body = stored.json()
    assert (body["name"], body["kind"], body["system"], body["target"], body["restarts"]) == (
        "civil-status",
        "database",
        "HO-TICH",
        "RUNNING",
        0,
    )
    assert body["config"]["services"][0]["query"] == sent["services"][0]["query"]
    assert body["config"]["pool_size"] == 5  # the defaults a connector will run it with
    services = (await hub.client.get(f"{url}/services")).json()
    assert [(s["code"], s["description"], s["request_schema"]) for s in services] == [
        ("birth-record.get", "Trích lục khai sinh", sent["services"][0]["request_schema"])
    ]
    assert [s["name"] for s in (await hub.client.get(f"{url}/sources")).json()] == ["civil-status"]
    assert (await hub.client.get(f"{url}/sources/civil-status")).json() == body
    status = (await hub.client.get(f"{url}/sources/civil-status/status")).json()
    assert status == {
        "name": "civil-status",
        "state": "UNASSIGNED",
        "error": None,
        "reported_at": None,
        "connector": None,
        "target": "RUNNING",
        "restarts": 0,
    }
    again = await hub.client.post(f"{url}/sources", json=sent)
    assert again.status_code == 409
    assert "has a source civil-status already" in again.json()["error"]["message"]
    other_name = await hub.client.post(f"{url}/sources", json=sent | {"name": "copy"})
    assert other_name.status_code == 409
    assert "already provides service birth-record.get" in other_name.json()["error"]["message"]

    await hub.client.post(f"{url}/grants", json={"service": "birth-record.get", "client_system": "MOT-CUA"})
    assert (await hub.client.delete(f"{url}/sources/civil-status")).status_code == 204
    assert (await hub.client.get(f"{url}/services")).json() == []
    assert (await hub.client.get(f"{url}/grants")).json() == []
    missing = await hub.client.get(f"{url}/sources/civil-status")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"system {provider['id']} has no source civil-status"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"pool": 3}, "pool: Extra inputs are not permitted"),
        ({"kind": "ftp"}, "body: Input tag 'ftp' found using 'kind' does not match"),
        (
            {"services": [SERVICE | {"query": "DELETE FROM births"}]},
            "services[0].query: a DELETE statement; only a SELECT may be served",
        ),
        (
            {"services": [SERVICE | {"query": "SELECT 1 WHERE 1 = :other"}]},
            "services[0].query: parameter :other is not a property of the request schema",
        ),
        (
            {"url": "postgresql+asyncpg://reader:hunter2@db.example/civil"},
            "url: a password is written in it",
        ),
        ({"password": "hunter2"}, "password.FromEnv: Input should be a valid dictionary"),
        (
            {"services": [SERVICE, SERVICE]},
            "services: service code used twice: birth-record.get",
        ),
        (
            {"services": [SERVICE | {"request_schema": {"type": "object", "minProperties": "x"}}]},
            "services[0].request_schema: not a JSON Schema",
        ),
    ],
)
async def test_a_bad_source_is_refused_naming_the_field(
    hub: Hub, tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    provider, _ = await civil_status(hub)
    url = f"/api/v1/systems/{provider['id']}"
    refused = await hub.client.post(f"{url}/sources", json=database_source(tmp_path / "x.db", **change))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "client.bad_request"
    assert named in refused.json()["error"]["message"]
    assert "hunter2" not in refused.text  # a secret sent by mistake is not echoed
    assert (await hub.client.get(f"{url}/sources")).json() == []


async def test_a_source_is_stored_with_all_its_services_or_not_at_all(hub: Hub, tmp_path: Path) -> None:
    provider, _ = await civil_status(hub)
    url = f"/api/v1/systems/{provider['id']}"
    backreference = {"type": "object", "properties": {"x": {"type": "string", "pattern": "(a)\\1"}}}
    services = [SERVICE, SERVICE | {"code": "second.get", "request_schema": backreference}]
    refused = await hub.client.post(
        f"{url}/sources", json=database_source(tmp_path / "x.db", services=services)
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith("request_schema: ")
    assert "no lookaround and no backreferences" in refused.json()["error"]["message"]
    assert (await hub.client.get(f"{url}/services")).json() == []  # nor the first, declared before
    assert (await hub.client.get(f"{url}/sources")).json() == []


async def test_a_rest_source_with_a_credential_written_in_a_header_is_refused(hub: Hub) -> None:
    provider, _ = await civil_status(hub)
    source = {
        "kind": "rest",
        "name": "business-api",
        "base_url": "https://dkkd.example.gov.vn/api",
        "headers": {"Authorization": "Bearer hunter2"},
        "services": [{"code": "business.get", "path": "/enterprises/{tax_code}"}],
    }
    refused = await hub.client.post(f"/api/v1/systems/{provider['id']}/sources", json=source)
    assert refused.status_code == 422
    assert "headers.Authorization: a credential" in refused.json()["error"]["message"]
    referenced = source | {"headers": {"Authorization": {"env": "DKKD_TOKEN"}}}
    path_field = await hub.client.post(f"/api/v1/systems/{provider['id']}/sources", json=referenced)
    assert path_field.status_code == 422  # {tax_code} is not a field of the request
    assert "services[0].path: tax_code: not a property" in path_field.json()["error"]["message"]


async def test_who_may_do_what(hub: Hub, tmp_path: Path) -> None:
    provider, client = await civil_status(hub)
    url = f"/api/v1/systems/{provider['id']}/sources"
    source = database_source(births_db(tmp_path / "civil.db"))
    other_integrator = await key(hub, "integrator", "VP-UBND")
    auditor = await key(hub, "auditor")
    own = hub.as_key(provider["api_key"])
    stranger = hub.as_key(client["api_key"])
    for refused in (other_integrator, auditor, own):
        assert (await hub.client.post(url, json=source, headers=refused)).status_code == 403
    integrator = await key(hub, "integrator", "SO-TP")
    assert (await hub.client.post(url, json=source, headers=integrator)).status_code == 201

    for reader in (auditor, own):
        assert (await hub.client.get(url, headers=reader)).status_code == 200
        assert (await hub.client.get(f"{url}/civil-status/status", headers=reader)).status_code == 200
    # Another system's key, and another agency's integrator: a source names the database's host and user.
    for stranger_to_it in (stranger, other_integrator):
        assert (await hub.client.get(url, headers=stranger_to_it)).status_code == 403
    for writer_only in (auditor, other_integrator, own):
        assert (await hub.client.put(f"{url}/civil-status/pause", headers=writer_only)).status_code == 403
        assert (await hub.client.post(f"{url}/civil-status/restart", headers=writer_only)).status_code == 403
        assert (await hub.client.delete(f"{url}/civil-status", headers=writer_only)).status_code == 403

    report = {"state": "FAILED", "error": "cannot reach the database (OperationalError)", "connector": "w:1"}
    for not_its_connector in (hub.client.headers, integrator, stranger):
        answer = await hub.client.put(f"{url}/civil-status/status", json=report, headers=not_its_connector)
        assert answer.status_code == 403
    assert (await hub.client.get("/api/v1/connector/sources")).status_code == 403  # the admin runs none
    reported = await hub.client.put(f"{url}/civil-status/status", json=report, headers=own)
    assert reported.status_code == 200, reported.text
    status = (await hub.client.get(f"{url}/civil-status/status")).json()
    assert (status["state"], status["error"], status["connector"]) == ("FAILED", report["error"], "w:1")
    assert status["reported_at"] is not None
    unassigned = await hub.client.put(
        f"{url}/civil-status/status", json=report | {"state": "UNASSIGNED"}, headers=own
    )
    assert unassigned.status_code == 422

    assert (await hub.client.delete(f"{url}/civil-status", headers=integrator)).status_code == 204


async def test_pause_resume_and_restart_record_what_is_asked(hub: Hub, tmp_path: Path) -> None:
    provider, _ = await civil_status(hub)
    url = f"/api/v1/systems/{provider['id']}/sources"
    await hub.client.post(url, json=database_source(births_db(tmp_path / "civil.db")))
    paused = await hub.client.put(f"{url}/civil-status/pause")
    assert paused.status_code == 202
    assert (paused.json()["target"], paused.json()["state"]) == ("PAUSED", "UNASSIGNED")
    assert (await hub.client.put(f"{url}/civil-status/resume")).json()["target"] == "RUNNING"
    for count in (1, 2):
        restarted = await hub.client.post(f"{url}/civil-status/restart")
        assert (restarted.status_code, restarted.json()["restarts"]) == (202, count)
    listing = (
        await hub.client.get("/api/v1/connector/sources", headers=hub.as_key(provider["api_key"]))
    ).json()
    assert (listing["system_id"], listing["system"]) == (provider["id"], "HO-TICH")
    assert [(s["name"], s["target"], s["restarts"]) for s in listing["sources"]] == [
        ("civil-status", "RUNNING", 2)
    ]
    assert (await hub.client.put(f"{url}/nothing/pause")).status_code == 404
    assert (await hub.client.put(f"{url}/Not%20A%20Name/pause")).status_code == 422

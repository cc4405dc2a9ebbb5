"""A person's accesses over HTTP, end to end: exchanges made on the real broker, read back by the person
they are about (and by nobody else), as JSON and CSV; and the operators' counts per purpose."""

import csv
import io
import time

import httpx
import pytest

from connectors.sdk import ExchangeError
from lgsp.errors import Forbidden
from tests.support import ADMIN_TOKEN, Hub
from tests.support.exchange import CITIZEN, PURPOSE, Axis, records
from tests.tracker.citizens import FORGER, signed_in

OTHER = "001099000042"  # another person the client asks about
NOBODY = "048300000001"  # a person nobody asked about
ACCESSES = "/api/v1/me/accesses"
FORMULA = '=HYPERLINK("http://evil.invalid","click")'


async def _exchanges(axis: Axis) -> None:
    """Two lookups of CITIZEN's birth record and one of OTHER's by MOT-CUA, and one of CITIZEN's by QLVB,
    which was never granted the service (refused, but an access all the same)."""
    for person in (CITIZEN, CITIZEN, OTHER):
        payload = {"citizen_id": person}
        await axis.client.request("HO-TICH", "birth-record.get", payload, subject=person, purpose=PURPOSE)
    with pytest.raises(ExchangeError, match="access_denied"):
        await axis.outsider.request(
            "HO-TICH",
            "birth-record.get",
            {"citizen_id": CITIZEN},
            subject=CITIZEN,
            purpose="record-correction",
        )


async def test_a_person_sees_every_access_to_their_data_and_nobody_elses(
    axis: Axis, citizen: httpx.AsyncClient
) -> None:
    await _exchanges(axis)
    mine = await citizen.get(ACCESSES, headers=signed_in(CITIZEN))
    assert mine.status_code == 200, mine.text
    page = mine.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 100, 0)
    ids = {r.id for r in await records(axis.settings) if r.client in ("MOT-CUA", "QLVB") and r.subject_hash}
    assert {a["exchange_id"] for a in page["items"]} < ids
    newest, *_, oldest = page["items"]
    assert (newest["system"], newest["outcome"], newest["fault_code"]) == (
        "QLVB",
        "fault",
        "client.access_denied",
    )
    assert (newest["purpose"], newest["purpose_en"]) == (
        "record-correction",
        "Updating or correcting data at the person's request",
    )
    assert (oldest["system"], oldest["outcome"], oldest["purpose"], oldest["purpose_vi"]) == (
        "MOT-CUA",
        "success",
        PURPOSE,
        "Đăng ký khai sinh",
    )
    for access in page["items"]:
        assert (access["agency"], access["agency_name"]) == ("VP-UBND", "Agency VP-UBND")
        assert (access["holder"], access["holder_name"], access["holder_agency"]) == (
            "HO-TICH",
            "System HO-TICH",
            "SO-TP",
        )
        assert access["service"] == "birth-record.get" and not access["crossed_ngsp"]
    # Nothing of what was asked or answered, and nobody's id.
    assert "Nguyễn" not in mine.text and CITIZEN not in mine.text and OTHER not in mine.text

    theirs = (await citizen.get(ACCESSES, headers=signed_in(OTHER))).json()
    assert theirs["total"] == 1 and theirs["items"][0]["system"] == "MOT-CUA"
    assert {a["exchange_id"] for a in theirs["items"]}.isdisjoint(a["exchange_id"] for a in page["items"])
    assert (await citizen.get(ACCESSES, headers=signed_in(NOBODY))).json()["total"] == 0

    # Paged and bounded in time like every list.
    second = (
        await citizen.get(ACCESSES, params={"limit": 1, "offset": 1}, headers=signed_in(CITIZEN))
    ).json()
    assert [a["exchange_id"] for a in second["items"]] == [page["items"][1]["exchange_id"]]
    later = await citizen.get(ACCESSES, params={"from": "2999-01-01"}, headers=signed_in(CITIZEN))
    assert later.json()["total"] == 0
    backwards = await citizen.get(
        ACCESSES, params={"from": "2026-02-01", "to": "2026-01-01"}, headers=signed_in(CITIZEN)
    )
    assert backwards.status_code == 422


async def test_the_csv_holds_the_same_accesses_with_formulas_neutralised(
    axis: Axis, citizen: httpx.AsyncClient
) -> None:
    systems = (await axis.hub.client.get("/api/v1/systems")).json()["items"]
    qlvb = next(s for s in systems if s["code"] == "QLVB")
    renamed = await axis.hub.client.patch(f"/api/v1/systems/{qlvb['id']}", json={"name": FORMULA})
    assert renamed.status_code == 200, renamed.text
    await _exchanges(axis)
    response = await citizen.get(f"{ACCESSES}.csv", headers=signed_in(CITIZEN))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    listed = (await citizen.get(ACCESSES, headers=signed_in(CITIZEN))).json()["items"]
    assert [r["exchange_id"] for r in rows] == [a["exchange_id"] for a in listed]
    assert rows[0]["system_name"] == "'" + FORMULA  # shown as text, never run by a spreadsheet
    assert rows[-1]["purpose"] == PURPOSE and rows[-1]["outcome"] == "success"
    assert rows[-1]["crossed_ngsp"] == "false"


async def test_only_the_person_signed_in_by_the_provider_gets_in(
    hub: Hub, citizen: httpx.AsyncClient
) -> None:
    refused = {
        "no token": {},
        "forged (another key)": signed_in(CITIZEN, FORGER),
        "expired": signed_in(CITIZEN, lifetime=60, now=time.time() - 3600),
        "another audience": signed_in(CITIZEN, audience="another-hub"),
        "not a token": {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."},
    }
    for path in (ACCESSES, f"{ACCESSES}.csv"):
        for why, headers in refused.items():
            response = await citizen.get(path, headers=headers)
            assert response.status_code == 401, (path, why, response.text)
            assert response.json()["error"]["code"] == "client.unauthenticated", why
        # A key of the platform is no person: even the admin is refused the list of anyone's accesses.
        admin = await citizen.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert admin.status_code == Forbidden.status, admin.text
        # An id typed in is not a sign-in.
        typed = await citizen.get(path, params={"subject": CITIZEN, "sub": CITIZEN})
        assert typed.status_code == 401
    assert (await citizen.get(ACCESSES, headers=signed_in(CITIZEN))).status_code == 200


async def test_operators_see_counts_per_purpose_and_never_who(axis: Axis, citizen: httpx.AsyncClient) -> None:
    await _exchanges(axis)
    report = await axis.hub.client.get("/api/v1/reports/purposes")
    assert report.status_code == 200, report.text
    counts = {c["purpose"]: (c["exchanges"], c["faults"]) for c in report.json()["purposes"]}
    assert counts == {PURPOSE: (3, 0), "record-correction": (1, 1)}
    hashes = {r.subject_hash for r in await records(axis.settings) if r.subject_hash}
    assert not any(h in report.text for h in hashes | {CITIZEN, OTHER})
    quiet = await axis.hub.client.get("/api/v1/reports/purposes", params={"to": "2000-01-01"})
    assert quiet.json()["purposes"] == [] and quiet.json()["to"] == "2000-01-01"
    # A citizen's token is no operator's key.
    assert (await citizen.get("/api/v1/reports/purposes", headers=signed_in(CITIZEN))).status_code == 401


async def test_the_purposes_and_the_page_are_public(citizen: httpx.AsyncClient) -> None:
    purposes = (await citizen.get("/api/v1/purposes")).json()
    assert {
        "code": "birth-registration",
        "label_vi": "Đăng ký khai sinh",
        "label_en": "Birth registration",
    } in purposes
    page = await citizen.get("/me")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Ai đã sử dụng dữ liệu của tôi?" in page.text and "Who has used my data?" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"

"""The once-only measures on a fixed, hand-made set of dossiers: indicator arithmetic (by dossier, by
applicant, reuse and its Decision 766 points), the once-only report (JSON, CSV, HTML), the dossier API
with its roles and paging, and the `lgsp_once_only_ratio` gauges.

The dossiers are written straight into the hub's database (SQLite and PostgreSQL), bypassing the bus, so
every expected figure below is computed by hand from the table `DOSSIERS`.
"""

import csv
import io
import math
import re
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lgsp.db import Database
from lgsp.indicators.models import points_766
from lgsp.onceonly.models import ComponentOutcome, Dossier, DossierComponentRecord
from lgsp.settings import Settings
from schemas.common import utcnow
from schemas.onceonly import load_catalogue
from tests.support import Hub, eventually, make_agency, make_system

INDICATORS = "/api/v1/indicators"
REPORT = "/api/v1/reports/once-only"
DOSSIER_LIST = "/api/v1/dossiers"
PUBLIC = {"Authorization": ""}  # no key at all
MAX_POINTS = 10.0  # reuse_max_points for these tests: the default 1.0 would hide a wrong factor

R, F = ComponentOutcome.REUSED, ComponentOutcome.FIRST_SUBMISSION
HU, NH = "holder_unreachable", "not_held"  # causes of a re-submission (what the lookup found)

#: (id, applicant hash, procedure, received on, [(document type, outcome)]): an outcome given as HU or NH
#: is a re-submission with that cause.
DOSSIERS: list[tuple[str, str, str, date, list[tuple[str, ComponentOutcome | str]]]] = [
    ("D1", "a1", "birth-registration", date(2025, 1, 10), [("identity", R), ("marriage-certificate", R)]),
    ("D2", "a2", "birth-registration", date(2025, 1, 20), [("identity", R), ("marriage-certificate", F)]),
    (
        "D3",
        "a3",
        "permanent-residence-registration",
        date(2025, 1, 25),
        [("identity", R), ("birth-certificate", F)],
    ),
    (
        "D4",
        "a2",
        "permanent-residence-registration",
        date(2025, 1, 31),
        [("identity", F), ("birth-certificate", F)],
    ),
    ("D5", "a4", "birth-registration", date(2025, 2, 3), [("identity", HU), ("marriage-certificate", R)]),
    (
        "D6",
        "a1",
        "marriage-registration",
        date(2025, 2, 15),
        [("identity", R), ("marital-status-confirmation", HU), ("residence-confirmation", NH)],
    ),
    ("D7", "a3", "birth-registration", date(2025, 2, 20), [("identity", R), ("marriage-certificate", R)]),
]
# Per dossier (reused / first / re-submitted; clean = no re-submission; reuse = at least one reused):
#   D1 a1 Jan-10 2/0/0 clean reuse     D5 a4 Feb-03 1/0/1 DIRTY reuse
#   D2 a2 Jan-20 1/1/0 clean reuse     D6 a1 Feb-15 1/0/2 DIRTY reuse
#   D3 a3 Jan-25 1/1/0 clean reuse     D7 a3 Feb-20 2/0/0 clean reuse
#   D4 a2 Jan-31 0/2/0 clean no reuse
# a1 has a clean dossier (D1) and a dirty one (D6): dirty over any period holding D6, clean otherwise.


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared per-test settings with a reuse scorecard worth MAX_POINTS."""
    return settings.model_copy(update={"reuse_max_points": MAX_POINTS})


@pytest.fixture(scope="module")
def shared_settings() -> dict[str, Any]:
    """The module's shared hub scores reuse out of MAX_POINTS too."""
    return {"reuse_max_points": MAX_POINTS}


async def insert_dossiers(database_url: str) -> None:
    """Write DOSSIERS and their components into the (migrated) hub database."""
    catalogue = load_catalogue()
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            components: list[DossierComponentRecord] = []
            for dossier_id, applicant, procedure, received_on, parts in DOSSIERS:
                outcomes = [
                    o if isinstance(o, ComponentOutcome) else ComponentOutcome.RESUBMISSION for _, o in parts
                ]
                session.add(
                    Dossier(
                        id=dossier_id,
                        office="MOT-CUA",
                        procedure=procedure,
                        applicant_hash=applicant,
                        received_on=received_on,
                        components=len(parts),
                        reused=outcomes.count(R),
                        first_submissions=outcomes.count(F),
                        resubmissions=outcomes.count(ComponentOutcome.RESUBMISSION),
                        recorded_at=utcnow(),
                    )
                )
                for (document_type, given), outcome in zip(parts, outcomes, strict=True):
                    cause = None if isinstance(given, ComponentOutcome) else given
                    components.append(
                        DossierComponentRecord(
                            dossier_id=dossier_id,
                            document_type=document_type,
                            holder=catalogue.document_type(document_type).holder,
                            outcome=outcome,
                            lookup={R: "held", F: "not_held"}.get(outcome, cause or ""),
                            cause=cause,
                        )
                    )
            await session.flush()  # the dossiers first: the components reference them
            session.add_all(components)
            await session.commit()
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
async def loaded(shared_hub: Hub) -> Hub:
    """The module's hub (its lifespan migrated the schema) with DOSSIERS recorded; the tests only read."""
    await insert_dossiers(shared_hub.settings.database_url)
    return shared_hub


async def once_only(hub: Hub, **period: str) -> dict[str, Any]:
    """The public once-only indicators for a period (keys `from`/`to`), asked without a key."""
    params = {"from" if k == "start" else "to": v for k, v in period.items()}
    response = await hub.client.get(INDICATORS, params=params, headers=PUBLIC)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["once_only"]
    return body


def assert_measure(got: dict[str, Any], numerator: int, denominator: int) -> None:
    """A measure's numerator, denominator and ratio (null when there is nothing to divide by)."""
    assert (got["numerator"], got["denominator"]) == (numerator, denominator), got
    if denominator:
        assert got["ratio"] == pytest.approx(numerator / denominator), got
    else:
        assert got["ratio"] is None, got


# --- Decision 766 points ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [(0.0, 0.0), (0.4, 5.0), (0.79, 9.875), (0.8, 10.0), (0.95, 10.0), (1.0, 10.0), (None, None)],
)
def test_points_766_pro_rata_below_80_percent_full_from_it(
    rate: float | None, expected: float | None
) -> None:
    got = points_766(rate, 10.0)
    assert got == (None if expected is None else pytest.approx(expected))


def test_points_766_scale_with_max_points() -> None:
    assert points_766(0.4, 1.0) == pytest.approx(0.5)  # half the full-points rate: half the points
    assert points_766(0.4, 3.0) == pytest.approx(1.5)
    assert points_766(0.8, 3.0) == 3.0


# --- the published indicators -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "by_dossier", "by_applicant", "reuse", "points"),
    [
        # Everything: 7 dossiers, D5 and D6 dirty -> 5/7; applicants a1..a4, a1 (D6) and a4 (D5) dirty
        # -> 2/4 although a1 also has the clean D1; reuse: all but D4 -> 6/7 = 0.857 >= 0.8: full points.
        ({}, (5, 7), (2, 4), (6, 7), MAX_POINTS),
        # January, `to` exclusive: D1..D4, all clean -> 4/4; a1, a2, a3 -> 3/3 (a1 clean: D6 is out);
        # reuse 3/4 = 0.75 < 0.8 -> 0.75 * 10 / 0.8 = 9.375.
        ({"start": "2025-01-01", "end": "2025-02-01"}, (4, 4), (3, 3), (3, 4), 9.375),
        # D1..D5: D5 dirty -> 4/5; a1..a4 with a4 dirty -> 3/4; reuse 4/5 = exactly 0.8 -> full points.
        ({"start": "2025-01-01", "end": "2025-02-04"}, (4, 5), (3, 4), (4, 5), MAX_POINTS),
        # February: D5, D6, D7 -> only D7 clean: 1/3; a4, a1 dirty, a3 clean -> 1/3; reuse 3/3.
        ({"start": "2025-02-01", "end": "2025-03-01"}, (1, 3), (1, 3), (3, 3), MAX_POINTS),
        # `from` inclusive (D1 on Jan-10 is in), `to` exclusive (D4 on Jan-31 is out): D1..D3.
        ({"start": "2025-01-10", "end": "2025-01-31"}, (3, 3), (3, 3), (3, 3), MAX_POINTS),
        # Only a bound on one side: from Feb-15 -> D6 (dirty, reuse), D7 (clean, reuse).
        ({"start": "2025-02-15"}, (1, 2), (1, 2), (2, 2), MAX_POINTS),
        # Up to Jan-25 exclusive -> D1, D2 (both clean, both reuse).
        ({"end": "2025-01-25"}, (2, 2), (2, 2), (2, 2), MAX_POINTS),
        # Nothing received: every ratio and the points are null.
        ({"start": "2025-03-01", "end": "2025-04-01"}, (0, 0), (0, 0), (0, 0), None),
    ],
)
async def test_indicators_over_periods(
    loaded: Hub,
    period: dict[str, str],
    by_dossier: tuple[int, int],
    by_applicant: tuple[int, int],
    reuse: tuple[int, int],
    points: float | None,
) -> None:
    got = await once_only(loaded, **period)
    assert got["start"] == period.get("start")
    assert got["end"] == period.get("end")
    assert_measure(got["by_dossier"], *by_dossier)
    assert_measure(got["by_applicant"], *by_applicant)
    assert_measure(got["reuse"], *reuse)
    assert got["reuse"]["max_points"] == MAX_POINTS
    assert got["reuse"]["points"] == (None if points is None else pytest.approx(points))
    for name in ("by_dossier", "by_applicant", "reuse"):
        assert got[name]["target"] == 0.8


async def test_indicators_refuse_a_period_that_ends_before_it_starts(loaded: Hub) -> None:
    for to in ("2025-01-01", "2024-12-31"):
        response = await loaded.client.get(
            INDICATORS, params={"from": "2025-01-01", "to": to}, headers=PUBLIC
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "client.bad_request"


# --- the once-only report ---------------------------------------------------------------------------------

# Every dossier, by procedure: (dossiers, without re-submission, with reuse)
#   birth-registration D1 D2 D5 D7 -> 4, 3 (D5 dirty), 4; marriage-registration D6 -> 1, 0, 1;
#   permanent-residence-registration D3 D4 -> 2, 2, 1 (D4 reused nothing).
ALL_BY_PROCEDURE = {
    "birth-registration": (4, 3, 4),
    "marriage-registration": (1, 0, 1),
    "permanent-residence-registration": (2, 2, 1),
}
# By document type: (reused, first submissions, re-submissions)
#   identity: R in D1 D2 D3 D6 D7, F in D4, re-submitted in D5; birth-certificate: F in D3 and D4;
#   marriage-certificate: R in D1 D5 D7, F in D2; the two others re-submitted once each in D6.
ALL_BY_DOCUMENT_TYPE = {
    "birth-certificate": (0, 2, 0),
    "identity": (5, 1, 1),
    "marital-status-confirmation": (0, 0, 1),
    "marriage-certificate": (3, 1, 0),
    "residence-confirmation": (0, 0, 1),
}
# By cause, most frequent first: holder unreachable in D5 (identity) and D6 (marital status); not held in D6.
ALL_BY_CAUSE = [(HU, 2), (NH, 1)]

# February only (D5, D6, D7).
FEB_BY_PROCEDURE = {"birth-registration": (2, 1, 2), "marriage-registration": (1, 0, 1)}
FEB_BY_DOCUMENT_TYPE = {
    "identity": (2, 0, 1),
    "marital-status-confirmation": (0, 0, 1),
    "marriage-certificate": (2, 0, 0),
    "residence-confirmation": (0, 0, 1),
}


async def test_report_json_lines_match_the_dossiers(loaded: Hub) -> None:
    catalogue = load_catalogue()
    response = await loaded.client.get(REPORT, params={"format": "json"})
    assert response.status_code == 200, response.text
    report = response.json()
    procedures = [p["procedure"] for p in report["by_procedure"]]
    assert procedures == sorted(ALL_BY_PROCEDURE)
    assert {
        p["procedure"]: (p["dossiers"], p["without_resubmission"], p["with_reuse"])
        for p in report["by_procedure"]
    } == ALL_BY_PROCEDURE
    assert all(p["name"] == catalogue.procedure(p["procedure"]).name for p in report["by_procedure"])
    types = [t["document_type"] for t in report["by_document_type"]]
    assert types == sorted(ALL_BY_DOCUMENT_TYPE)
    assert {
        t["document_type"]: (t["reused"], t["first_submissions"], t["resubmissions"])
        for t in report["by_document_type"]
    } == ALL_BY_DOCUMENT_TYPE
    assert all(
        t["name"] == catalogue.document_type(t["document_type"]).name for t in report["by_document_type"]
    )
    assert [(c["cause"], c["resubmissions"]) for c in report["by_cause"]] == ALL_BY_CAUSE
    # The measures are the indicators' over the same (whole) period.
    measures = report["measures"]
    assert_measure(measures["by_dossier"], 5, 7)
    assert_measure(measures["by_applicant"], 2, 4)
    assert_measure(measures["reuse"], 6, 7)
    assert measures["reuse"]["points"] == MAX_POINTS
    assert report["generated_at"]

    # The default format is JSON.
    default = await loaded.client.get(REPORT)
    assert default.status_code == 200
    assert default.json()["by_procedure"] == report["by_procedure"]


async def test_report_over_a_period(loaded: Hub) -> None:
    response = await loaded.client.get(REPORT, params={"from": "2025-02-01", "to": "2025-03-01"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert {
        p["procedure"]: (p["dossiers"], p["without_resubmission"], p["with_reuse"])
        for p in report["by_procedure"]
    } == FEB_BY_PROCEDURE
    assert {
        t["document_type"]: (t["reused"], t["first_submissions"], t["resubmissions"])
        for t in report["by_document_type"]
    } == FEB_BY_DOCUMENT_TYPE
    assert [(c["cause"], c["resubmissions"]) for c in report["by_cause"]] == ALL_BY_CAUSE
    assert (report["measures"]["start"], report["measures"]["end"]) == ("2025-02-01", "2025-03-01")
    assert_measure(report["measures"]["by_dossier"], 1, 3)
    assert_measure(report["measures"]["by_applicant"], 1, 3)

    # January had no re-submission at all: no cause line.
    january = await loaded.client.get(REPORT, params={"from": "2025-01-01", "to": "2025-02-01"})
    assert january.status_code == 200, january.text
    assert january.json()["by_cause"] == []
    assert sum(p["dossiers"] for p in january.json()["by_procedure"]) == 4

    # An empty period: no lines, null ratios.
    empty = await loaded.client.get(REPORT, params={"from": "2030-01-01", "to": "2030-02-01"})
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert (body["by_procedure"], body["by_document_type"], body["by_cause"]) == ([], [], [])
    assert body["measures"]["by_dossier"]["ratio"] is None
    assert body["measures"]["reuse"]["points"] is None


def csv_sections(text: str) -> dict[str, list[dict[str, str]]]:
    """The report CSV as {section: rows as dicts}: each section starts with its own header row."""
    sections: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        if row[0] == "section":
            header = row
            continue
        assert len(row) == len(header), (header, row)
        sections.setdefault(row[0], []).append(dict(zip(header, row, strict=True)))
    return sections


async def test_report_csv_has_the_same_numbers(loaded: Hub) -> None:
    response = await loaded.client.get(REPORT, params={"format": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    sections = csv_sections(response.text)
    assert set(sections) == {"measures", "by_procedure", "by_document_type", "by_cause", "by_office"}
    assert [(r["office"], int(r["dossiers"]), int(r["unverified"])) for r in sections["by_office"]] == [
        ("MOT-CUA", 7, 0)
    ]
    assert {
        r["procedure"]: (int(r["dossiers"]), int(r["without_resubmission"]), int(r["with_reuse"]))
        for r in sections["by_procedure"]
    } == ALL_BY_PROCEDURE
    assert {
        r["document_type"]: (int(r["reused"]), int(r["first_submissions"]), int(r["resubmissions"]))
        for r in sections["by_document_type"]
    } == ALL_BY_DOCUMENT_TYPE
    assert [(r["cause"], int(r["resubmissions"])) for r in sections["by_cause"]] == ALL_BY_CAUSE
    measures = {r["measure"]: r for r in sections["measures"]}
    for name, numerator, denominator in (("by_dossier", 5, 7), ("by_applicant", 2, 4), ("reuse", 6, 7)):
        row = measures[name]
        assert (int(row["numerator"]), int(row["denominator"])) == (numerator, denominator)
        assert float(row["ratio"]) == pytest.approx(numerator / denominator)
    assert float(measures["reuse_points_766"]["numerator"]) == MAX_POINTS  # points, out of max_points
    assert float(measures["reuse_points_766"]["denominator"]) == MAX_POINTS

    # Empty period: the ratios are empty cells, not "None".
    empty = csv_sections(
        (await loaded.client.get(REPORT, params={"format": "csv", "from": "2030-01-01"})).text
    )
    assert {r["measure"]: r["ratio"] for r in empty["measures"]}["by_dossier"] == ""
    assert "by_procedure" not in empty


async def test_report_html_is_self_contained_and_shows_the_numbers(loaded: Hub) -> None:
    response = await loaded.client.get(REPORT, params={"format": "html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.lower().startswith("<!doctype html>")
    assert page.rstrip().endswith("</html>")
    # Nothing fetched from elsewhere: no remote src/href/url(), no external script or stylesheet.
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    # The figures: ratios to three decimals, counts as integers.
    for cell in ("0.714", "0.500", "0.857", "10.000"):  # 5/7, 2/4, 6/7, the points
        assert f">{cell}</td>" in page, cell
    for procedure, (dossiers, clean, reuse) in ALL_BY_PROCEDURE.items():
        row = f"<td>{procedure}</td>"
        assert row in page, procedure
        after = page.split(row, 1)[1].split("</tr>", 1)[0]
        assert re.findall(r"<td class='n'>(\d+)</td>", after) == [str(dossiers), str(clean), str(reuse)]
    for cause, count in ALL_BY_CAUSE:
        assert f"<td>{cause}</td><td class='n'>{count}</td>" in page


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-02-01", "to": "2025-02-01"},  # to == from: an empty period is refused
        {"from": "2025-02-01", "to": "2025-01-01"},
    ],
)
async def test_report_refuses_a_backwards_period(loaded: Hub, params: dict[str, str]) -> None:
    response = await loaded.client.get(REPORT, params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "client.bad_request"
    assert isinstance(error["message"], str) and error["message"]


@pytest.mark.parametrize("params", [{"format": "pdf"}, {"format": "JSON "}, {"from": "not-a-date"}])
async def test_report_refuses_unknown_formats_and_bad_dates(loaded: Hub, params: dict[str, str]) -> None:
    response = await loaded.client.get(REPORT, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "client.bad_request"


# --- roles --------------------------------------------------------------------------------------------------


async def role_keys(hub: Hub) -> dict[str, str]:
    """One key of every role (the admin token stands for admin), new ones at each call."""
    await make_agency(hub.client, "SO-TP", exist_ok=True)
    keys: dict[str, str] = {}
    for role in ("operator", "auditor", "integrator"):
        body: dict[str, Any] = {"role": role, "label": f"a {role}"}
        if role == "integrator":
            body["agency_code"] = "SO-TP"
        response = await hub.client.post("/api/v1/keys", json=body)
        assert response.status_code == 201, response.text
        keys[role] = response.json()["api_key"]
    keys["system"] = (await make_system(hub.client, f"MOT-CUA-{uuid.uuid4().hex[:8]}"))["api_key"]
    return keys


@pytest.mark.parametrize(
    "path", [DOSSIER_LIST, f"{DOSSIER_LIST}/D6", REPORT, f"{REPORT}?format=csv", f"{REPORT}?format=html"]
)
async def test_only_admins_operators_and_auditors_read_dossiers_and_reports(loaded: Hub, path: str) -> None:
    keys = await role_keys(loaded)
    allowed = await loaded.client.get(path)  # admin token
    assert allowed.status_code == 200, allowed.text
    for role in ("operator", "auditor"):
        response = await loaded.client.get(path, headers=loaded.as_key(keys[role]))
        assert response.status_code == 200, (role, response.text)
    for role in ("integrator", "system"):
        response = await loaded.client.get(path, headers=loaded.as_key(keys[role]))
        assert response.status_code == 403, (role, response.text)
        assert response.json()["error"]["code"] == "client.access_denied"
    for headers in (PUBLIC, loaded.as_key("lgsp_not_a_key")):
        response = await loaded.client.get(path, headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "client.unauthenticated"


async def test_indicators_need_no_key_but_accept_one(loaded: Hub) -> None:
    keys = await role_keys(loaded)
    anonymous = await loaded.client.get(INDICATORS, headers=PUBLIC)
    system = await loaded.client.get(INDICATORS, headers=loaded.as_key(keys["system"]))
    assert anonymous.status_code == system.status_code == 200
    assert anonymous.json()["once_only"] == system.json()["once_only"]


# --- the dossier API ----------------------------------------------------------------------------------------


async def dossier_ids(client: httpx.AsyncClient, **params: Any) -> tuple[list[str], int]:
    response = await client.get(DOSSIER_LIST, params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    if "limit" in params:
        assert page["limit"] == params["limit"]
    assert page["offset"] == params.get("offset", 0)
    return [d["id"] for d in page["items"]], page["total"]


async def test_dossier_list_pages_newest_first_and_filters(loaded: Hub) -> None:
    client = loaded.client
    newest_first = ["D7", "D6", "D5", "D4", "D3", "D2", "D1"]
    assert await dossier_ids(client) == (newest_first, 7)
    assert await dossier_ids(client, limit=3) == (newest_first[:3], 7)
    assert await dossier_ids(client, limit=3, offset=3) == (newest_first[3:6], 7)
    assert await dossier_ids(client, limit=3, offset=6) == (newest_first[6:], 7)
    assert await dossier_ids(client, offset=10) == ([], 7)
    assert await dossier_ids(client, resubmitted="true") == (["D6", "D5"], 2)
    assert await dossier_ids(client, resubmitted="false") == (["D7", "D4", "D3", "D2", "D1"], 5)
    assert await dossier_ids(client, resubmitted="true", limit=1, offset=1) == (["D5"], 2)
    assert await dossier_ids(client, procedure="birth-registration") == (["D7", "D5", "D2", "D1"], 4)
    assert await dossier_ids(client, **{"from": "2025-01-20", "to": "2025-02-04"}) == (
        ["D5", "D4", "D3", "D2"],
        4,
    )
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"from": "2025-02-01", "to": "2025-01-01"}):
        response = await client.get(DOSSIER_LIST, params=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "client.bad_request"

    item = (await client.get(DOSSIER_LIST, params={"limit": 1})).json()["items"][0]
    assert item == {
        "id": "D7",
        "office": "MOT-CUA",
        "procedure": "birth-registration",
        "applicant_hash": "a3",
        "received_on": "2025-02-20",
        "components": 2,
        "reused": 2,
        "first_submissions": 0,
        "resubmissions": 0,
        "unverified": None,  # written as before the ledger checked claims (that is test_claims.py)
        "claimed_received_on": None,  # its day as the office said, had it been moved
    }


async def test_one_dossier_with_its_documents(loaded: Hub) -> None:
    response = await loaded.client.get(f"{DOSSIER_LIST}/D6")
    assert response.status_code == 200, response.text
    dossier = response.json()
    assert (dossier["id"], dossier["applicant_hash"], dossier["procedure"]) == (
        "D6",
        "a1",
        "marriage-registration",
    )
    assert (
        dossier["components"],
        dossier["reused"],
        dossier["first_submissions"],
        dossier["resubmissions"],
    ) == (
        3,
        1,
        0,
        2,
    )
    assert [(d["document_type"], d["outcome"], d["cause"]) for d in dossier["documents"]] == [
        ("identity", "reused", None),
        ("marital-status-confirmation", "resubmission", HU),
        ("residence-confirmation", "resubmission", NH),
    ]
    assert dossier["documents"][0]["holder"] == "VN/DAN-CU"
    assert dossier["documents"][1]["holder"] == "HO-TICH"
    assert "recorded_at" not in dossier

    for unknown in ("D99", "x" * 80):
        missing = await loaded.client.get(f"{DOSSIER_LIST}/{unknown}")
        assert missing.status_code == 404, missing.text
        error = missing.json()["error"]
        assert error["code"] == "client.not_found"
        assert isinstance(error["message"], str) and error["message"]


# --- metrics ------------------------------------------------------------------------------------------------


async def once_only_gauges(client: httpx.AsyncClient) -> dict[str, float]:
    """`lgsp_once_only_ratio` by measure, from the Prometheus text exposition."""
    response = await client.get("/metrics", headers=PUBLIC)
    assert response.status_code == 200, response.text
    return {
        sample.labels["measure"]: sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "lgsp_once_only_ratio"
        for sample in family.samples
    }


async def test_the_gauges_show_the_ratios_over_every_dossier(hub: Hub) -> None:
    async def gauges_are(expected: dict[str, float]) -> bool:
        gauges = await once_only_gauges(hub.client)
        return all(
            m in gauges and (math.isnan(gauges[m]) if math.isnan(v) else gauges[m] == pytest.approx(v))
            for m, v in expected.items()
        )

    # The metrics registry is process-wide, and an earlier test's hub recorded these very dossiers: first
    # see this hub's own refresh of its empty database (NaN), so the figures below can only be its own.
    nothing = dict.fromkeys(("by_dossier", "by_applicant", "reuse"), math.nan)
    await eventually(lambda: gauges_are(nothing), timeout=8.0, interval=0.2, what="NaN gauges while empty")
    await insert_dossiers(hub.settings.database_url)
    # 5/7 dossiers and 2/4 applicants without a re-submission, 6/7 dossiers with a reuse (see DOSSIERS).
    expected = {"by_dossier": 5 / 7, "by_applicant": 2 / 4, "reuse": 6 / 7}
    # The hub refreshes the gauges every 5 s.
    await eventually(lambda: gauges_are(expected), timeout=8.0, interval=0.2, what="the gauges of DOSSIERS")

"""Two levels of local government since 1 July 2025: new agencies and systems are registered at province or
commune level; a `district` registered before is still read, listed, updated and reported as it was.

Every test runs against SQLite and PostgreSQL (see the `database_url` fixture).
"""

from lgsp.db import Database
from lgsp.registry.models import AdministrativeLevel, System
from tests.registry.test_api import AGENCIES, SYSTEMS, bad_request
from tests.support import Hub, make_agency, make_system

ABOLISHED = ("district", "abolished on 1 July 2025", "province or commune")


async def test_a_new_agency_or_system_at_district_level_is_refused_with_the_reason(hub: Hub) -> None:
    bad_request(
        await hub.client.post(
            AGENCIES, json={"code": "UBND-H01", "name": "UBND Thủ Đức", "level": "district"}
        ),
        *ABOLISHED,
    )
    await make_agency(hub.client, "UBND-X01", level="commune")
    body = {"code": "X01-MC", "name": "Một cửa phường Sài Gòn", "agency_code": "UBND-X01"}
    bad_request(await hub.client.post(SYSTEMS, json={**body, "level": "district"}), *ABOLISHED)
    created = await make_system(hub.client, "X01-MC", "UBND-X01", level="commune")
    assert created["level"] == "commune"
    bad_request(await hub.client.patch(f"{SYSTEMS}/{created['id']}", json={"level": "district"}), *ABOLISHED)
    assert [a["code"] for a in (await hub.client.get(AGENCIES)).json()] == ["UBND-X01"]


async def test_a_district_system_registered_before_the_reform_keeps_working(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")
    # Written as the registry stored it before 1 July 2025: the API would refuse it today.
    database = Database(hub.settings.database_url)
    try:
        async with database.sessions() as session:
            legacy = AdministrativeLevel.DISTRICT
            session.add(
                System(code="MC-THU-DUC", name="Một cửa TP Thủ Đức", agency_code="SO-TP", level=legacy)
            )
            await session.commit()
    finally:
        await database.dispose()
    listed = {s["code"]: s for s in (await hub.client.get(SYSTEMS)).json()["items"]}
    stored = listed["MC-THU-DUC"]
    assert stored["level"] == "district"
    renamed = await hub.client.patch(f"{SYSTEMS}/{stored['id']}", json={"name": "Một cửa (trước 2025)"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["level"]) == ("Một cửa (trước 2025)", "district")
    moved = await hub.client.patch(f"{SYSTEMS}/{stored['id']}", json={"level": "commune"})
    assert moved.status_code == 200 and moved.json()["level"] == "commune", moved.text

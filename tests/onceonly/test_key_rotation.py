"""Rotating the platform secret loses no match (issue 16: "version the key so it can be rotated
without breaking ledger matching").

A person's documents are in the ledger, and the office's evidence lookups on record, under the hash the
first secret made. The hub restarts on the same database with a new LGSP_SECRET_KEY: with the old one in
LGSP_SECRET_KEYS_PREVIOUS, a document handed in again is still a re-submission and a reuse claimed on
the old lookup is still backed; without it (the control), the hub no longer recognises the person.

End to end on the real broker, SQLite and PostgreSQL. The bus keys are pinned (LGSP_BUS_SIGNING_KEY,
LGSP_NGSP_SIGNING_KEY), as docs/operators/secret-key.md says to do before a rotation, so the connectors'
trust anchor outlives it.
"""

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lgsp.db import Database
from lgsp.reports.key_versions import key_versions
from lgsp.security import PlatformKeys
from lgsp.settings import Settings
from schemas.onceonly import EVIDENCE_GET
from tests.onceonly.test_claims import CATALOGUE, recorded, report
from tests.support import Broker, connector_for, make_agency, make_system, running_hub
from tests.support import wait_connected as connected

PERSON, LOOKED_UP = "079399000021", "079399000022"
PURPOSE = "birth-registration"  # a code of schemas/purposes.py


@pytest.mark.parametrize("keeps_previous", [True, False], ids=["previous-kept", "previous-dropped"])
async def test_a_rotated_secret_still_matches_what_the_old_one_stored(
    settings: Settings, broker: Broker, tmp_path: Path, keeps_previous: bool
) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    pinned = {
        "catalogue": path,
        "bus_signing_key": SecretStr(secrets.token_hex(32)),
        "ngsp_signing_key": SecretStr(secrets.token_hex(32)),
    }
    before = settings.model_copy(update=pinned | {"secret_key": SecretStr(old)})
    after = Settings(
        **(
            settings.model_dump()
            | pinned
            | {"secret_key": new, "secret_keys_previous": old if keeps_previous else None}
        )
    )
    today = datetime.now(UTC).date()
    systems: dict[str, dict[str, Any]] = {}

    async def serve(hub_settings: Settings, first: bool) -> dict[str, Any]:
        """One hub's life: the first registers and records, the second files the dossiers to judge."""
        async with running_hub(hub_settings, broker.bootstrap) as hub:
            if first:
                await make_agency(hub.client, "SO-TP")
                await make_agency(hub.client, "VP-UBND")
                systems["holder"] = await make_system(hub.client, "HO-TICH", "SO-TP")
                systems["office"] = await make_system(hub.client, "MOT-CUA", "VP-UBND")
                url = f"/api/v1/systems/{systems['holder']['id']}"
                offered = await hub.client.post(f"{url}/services", json={"code": EVIDENCE_GET})
                grant = {"service": EVIDENCE_GET, "client_system": "MOT-CUA"}
                granted = await hub.client.post(f"{url}/grants", json=grant)
                assert (offered.status_code, granted.status_code) == (201, 201)
            holder = connector_for(systems["holder"], hub_settings, broker.bootstrap)

            @holder.service(EVIDENCE_GET)
            async def held(payload: dict[str, Any]) -> dict[str, Any]:
                return {"held": True}

            shop = connector_for(systems["office"], hub_settings, broker.bootstrap)
            await holder.start()
            await shop.start()
            try:
                await connected(hub.client, systems["holder"])
                if first:
                    # Under the old secret: a document handed in and accepted, and a lookup on record.
                    accepted = report(shop, PERSON, today, source="submitted")
                    await shop.report_dossier(accepted)
                    assert (await recorded(hub, accepted.dossier_id))["first_submissions"] == 1
                    query = {"document_type": "birth-certificate", "subject": LOOKED_UP, "on": str(today)}
                    answer = await shop.request(
                        "HO-TICH", EVIDENCE_GET, query, subject=LOOKED_UP, purpose=PURPOSE
                    )
                    assert answer == {"held": True}
                    return {}
                again = report(shop, PERSON, today, source="submitted")
                claimed = report(shop, LOOKED_UP, today)
                await shop.report_dossier(again)
                await shop.report_dossier(claimed)
                return {
                    "again": await recorded(hub, again.dossier_id),
                    "claimed": await recorded(hub, claimed.dossier_id),
                }
            finally:
                await shop.stop()
                await holder.stop()

    await serve(before, first=True)
    judged = await serve(after, first=False)

    again, claimed = judged["again"], judged["claimed"]
    if keeps_previous:
        assert (again["resubmissions"], again["first_submissions"]) == (1, 0), again
        assert (claimed["reused"], claimed["unverified"]) == (1, 0), claimed
    else:  # the control: the same facts, the old key gone, and the person is a stranger
        assert (again["resubmissions"], again["first_submissions"]) == (0, 1), again
        assert (claimed["reused"], claimed["unverified"]) == (0, 1), claimed

    # What each key still holds: the dossiers of either life, each under the key of its day.
    database = Database(after.database_url)
    try:
        counts = await key_versions(database, PlatformKeys.from_settings(after))
    finally:
        await database.dispose()
    dossiers = {c.key_id: (c.rows, c.status) for c in counts if c.column == "dossier.applicant_hash"}
    old_id, new_id = PlatformKeys.of(old).current.id, PlatformKeys.of(new).current.id
    assert dossiers == {old_id: (1, "previous" if keeps_previous else "unknown"), new_id: (2, "current")}

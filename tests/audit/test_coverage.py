"""What the chain covers beyond registry changes, exchange records and snapshots: every link state change
(the source of the connectivity reports), each hub process's stretch of uptime once it is over, every
dossier with its components and the documents it brought into the ledger; and who changed the registry,
down to the key."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import delete, insert, select, update
from sqlmodel import col

from lgsp.audit.models import AuditEntry, RegistryEvent
from lgsp.audit.service import verify
from lgsp.connectivity.models import HubUptime, LinkStateChange
from lgsp.db import Database
from lgsp.onceonly.models import AcceptedDocument, Dossier, DossierComponentRecord
from schemas.common import Link, utcnow
from tests.audit.support import dossier_rows
from tests.support import Hub, eventually, make_agency, make_system

CHANGED = "the record was changed"


async def sealed_link(database: Database, kind: str, ref: str) -> AuditEntry:
    """Wait until the record `ref` of `kind` is sealed; its link."""
    found: list[AuditEntry] = []

    async def is_sealed() -> bool:
        async with database.sessions() as session:
            query = select(AuditEntry).where(col(AuditEntry.kind) == kind, col(AuditEntry.ref) == ref)
            found[:] = (await session.exec(query)).scalars().all()
        return bool(found)

    await eventually(is_sealed, timeout=15, what=f"{kind} {ref} sealed")
    return found[0]


async def assert_changed_at(database: Database, link: AuditEntry) -> None:
    result = await verify(database)
    assert (result.ok, result.broken_at, result.kind, result.ref, result.problem) == (
        False,
        link.seq,
        link.kind,
        link.ref,
        CHANGED,
    ), result


async def test_link_state_changes_are_sealed_and_checked(hub: Hub) -> None:
    await make_agency(hub.client)
    system = await make_system(hub.client, "HO-TICH")
    database = Database(hub.settings.database_url)
    try:
        async with database.engine.begin() as conn:  # as the tracker writes them: one statement, many rows
            row = {"system_id": system["id"], "connected": True, "at": utcnow(), "reason": "heartbeat"}
            await conn.execute(
                insert(LinkStateChange), [row | {"link": Link.LGSP}, row | {"link": Link.NGSP}]
            )
            ids = list(
                (await conn.execute(select(LinkStateChange.id).order_by(col(LinkStateChange.id)))).scalars()
            )
        links = [await sealed_link(database, "link_state", str(i)) for i in ids]
        assert (await verify(database)).ok
        # An outage hidden after the fact: the report would read connected where it was not.
        async with database.engine.begin() as conn:
            await conn.execute(
                update(LinkStateChange).where(col(LinkStateChange.id) == ids[1]).values(connected=False)
            )
        await assert_changed_at(database, links[1])
    finally:
        await database.dispose()


async def test_hub_uptime_is_sealed_once_each_stretch_is_over(hub: Hub) -> None:
    database = Database(hub.settings.database_url)
    now = utcnow()
    stopped, crashed = uuid4(), uuid4()
    try:

        async def beating() -> bool:  # the hub records its own uptime once it consumes the bus
            async with database.engine.connect() as conn:
                return bool((await conn.execute(select(HubUptime.instance_id))).first())

        await eventually(beating, timeout=15, what="the hub's own stretch of uptime")
        async with database.engine.begin() as conn:
            await conn.execute(
                insert(HubUptime),
                [
                    {
                        "instance_id": stopped,
                        "started_at": now - timedelta(hours=3),
                        "last_seen_at": now - timedelta(hours=2),
                        "stopped_at": now - timedelta(hours=2),
                    },
                    {  # a hub that died without a word: over once it has been silent long enough
                        "instance_id": crashed,
                        "started_at": now - timedelta(hours=2),
                        "last_seen_at": now - timedelta(hours=1),
                        "stopped_at": None,
                    },
                ],
            )
        over = await sealed_link(database, "hub_uptime", str(stopped))
        silent = await sealed_link(database, "hub_uptime", str(crashed))
        # The running hub's own stretch is still growing: not sealed while it lasts.
        async with database.engine.connect() as conn:
            open_ = select(HubUptime.instance_id).where(col(HubUptime.stopped_at).is_(None))
            live = {str(i) for i in (await conn.execute(open_)).scalars()} - {str(crashed)}
            kept = select(AuditEntry.ref).where(col(AuditEntry.kind) == "hub_uptime")
            assert live and not live & set((await conn.execute(kept)).scalars())
        # A hub that comes back after a long freeze closes its old stretch where it ended: not tampering.
        async with database.engine.begin() as conn:
            await conn.execute(
                update(HubUptime)
                .where(col(HubUptime.instance_id) == crashed)
                .values(stopped_at=col(HubUptime.last_seen_at))
            )
        assert (await verify(database)).ok
        # Downtime hidden after the fact is found.
        async with database.engine.begin() as conn:
            await conn.execute(
                update(HubUptime)
                .where(col(HubUptime.instance_id) == stopped)
                .values(last_seen_at=now, stopped_at=now)
            )
        await assert_changed_at(database, over)
        async with database.engine.begin() as conn:
            await conn.execute(
                update(HubUptime)
                .where(col(HubUptime.instance_id) == stopped)
                .values(last_seen_at=now - timedelta(hours=2), stopped_at=now - timedelta(hours=2))
            )
            await conn.execute(
                update(HubUptime).where(col(HubUptime.instance_id) == crashed).values(last_seen_at=now)
            )
        await assert_changed_at(database, silent)
    finally:
        await database.dispose()


async def test_dossiers_and_the_ledger_are_sealed_and_checked(hub: Hub) -> None:
    database = Database(hub.settings.database_url)
    dossier_id = str(uuid4())
    dossier, components, documents = dossier_rows(dossier_id)
    try:
        async with database.engine.begin() as conn:  # one transaction, as the ledger records a batch
            await conn.execute(insert(Dossier), [dossier])
            await conn.execute(insert(DossierComponentRecord), components)
            await conn.execute(insert(AcceptedDocument), documents)
        link = await sealed_link(database, "dossier", dossier_id)
        assert (await verify(database)).ok

        async def tampered(*statements: Any) -> None:
            async with database.engine.begin() as conn:
                for statement in statements:
                    await conn.execute(statement)

        component = col(DossierComponentRecord.dossier_id) == dossier_id
        # A re-submission turned into a reuse, in the dossier and in its component.
        await tampered(
            update(DossierComponentRecord)
            .where(component, col(DossierComponentRecord.outcome) == "first_submission")
            .values(outcome="reused")
        )
        await assert_changed_at(database, link)
        await tampered(
            update(DossierComponentRecord)
            .where(component, col(DossierComponentRecord.document_type) == "marital-status-confirmation")
            .values(outcome="first_submission")
        )
        assert (await verify(database)).ok
        # A document removed from the ledger, so a later dossier no longer counts as a re-submission.
        certificate = col(AcceptedDocument.document_type) == "marriage-certificate"
        async with database.engine.connect() as conn:
            kept = dict((await conn.execute(select(AcceptedDocument).where(certificate))).one()._mapping)
        await tampered(delete(AcceptedDocument).where(certificate))
        await assert_changed_at(database, link)
        await tampered(insert(AcceptedDocument).values(kept))
        assert (await verify(database)).ok
        # A document the dossier never brought, added to the ledger in its name.
        forged = documents[1] | {"document_type": "identity", "content_hash": "9" * 64}
        await tampered(insert(AcceptedDocument).values(forged))
        await assert_changed_at(database, link)
    finally:
        await database.dispose()


async def actors(database: Database) -> list[Mapping[str, Any]]:
    async with database.engine.connect() as conn:
        rows = await conn.execute(select(RegistryEvent).order_by(col(RegistryEvent.id)))
        return [row._mapping for row in rows]


async def test_registry_changes_record_the_acting_key(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")  # with the admin token of the settings
    issued = await hub.client.post(
        "/api/v1/keys", json={"role": "integrator", "agency_code": "SO-TP", "label": "SO-TP's integrator"}
    )
    assert issued.status_code == 201, issued.text
    integrator = issued.json()
    registered = await hub.client.post(
        "/api/v1/systems",
        json={"code": "HO-TICH", "name": "Civil status", "agency_code": "SO-TP"},
        headers=hub.as_key(integrator["api_key"]),
    )
    assert registered.status_code == 201, registered.text
    database = Database(hub.settings.database_url)
    try:
        events = {e["action"]: e for e in await actors(database)}
        assert events["agency.registered"]["actor"] == "admin"
        assert events["agency.registered"]["actor_key"] == "bootstrap token"
        assert events["system.registered"]["actor"] == "integrator:SO-TP"
        assert events["system.registered"]["actor_key"] == f"key {integrator['id']}"
        # Sealed with the rest of the event: blaming another key afterwards is found.
        event = events["system.registered"]
        link = await sealed_link(database, "registry", str(event["id"]))
        async with database.engine.begin() as conn:
            await conn.execute(
                update(RegistryEvent)
                .where(col(RegistryEvent.id) == event["id"])
                .values(actor_key="bootstrap token")
            )
        await assert_changed_at(database, link)
    finally:
        await database.dispose()

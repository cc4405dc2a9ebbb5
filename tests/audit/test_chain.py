"""The audit trail on both databases: records get sealed into a chain, and verify finds any tampering."""

from sqlalchemy import delete, select, update
from sqlmodel import col

from lgsp.audit.models import AuditEntry, RegistryEvent
from lgsp.audit.service import Verification, verify
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from tests.audit.support import EXCHANGES, entries, lgsp_audit_verify
from tests.support import Hub


async def test_an_untouched_chain_verifies_over_rest(hub: Hub, sealed: Database) -> None:
    links = await entries(sealed)
    kinds = {e.kind for e in links}
    assert kinds == {"registry", "exchange", "indicators"}
    body = (await hub.client.get("/api/v1/audit/verify")).json()
    assert body["ok"] is True and body["links"] == len(links) and body["last_hash"] == links[-1].hash
    assert sum(e.kind == "exchange" for e in links) == EXCHANGES
    actions = await registry_actions(sealed)
    assert actions[:3] == ["agency.registered", "system.registered", "system.registered"]


async def registry_actions(database: Database) -> list[str]:
    async with database.engine.connect() as conn:
        return list(
            (await conn.execute(select(RegistryEvent.action).order_by(col(RegistryEvent.id)))).scalars()
        )


async def test_a_changed_record_is_found(sealed: Database) -> None:
    victim = next(e for e in await entries(sealed) if e.kind == "exchange")
    async with sealed.engine.begin() as conn:
        await conn.execute(
            update(ExchangeRecord).where(col(ExchangeRecord.id) == victim.ref).values(outcome="fault")
        )
    assert await verify(sealed) == Verification(
        ok=False,
        links=victim.seq - 1,
        last_hash=victim.prev_hash,
        broken_at=victim.seq,
        kind="exchange",
        ref=victim.ref,
        problem="the record was changed",
    )


async def test_a_removed_record_is_found(sealed: Database) -> None:
    victim = [e for e in await entries(sealed) if e.kind == "registry"][1]
    async with sealed.engine.begin() as conn:
        await conn.execute(delete(RegistryEvent).where(col(RegistryEvent.id) == int(victim.ref)))
    result = await verify(sealed)
    assert (result.ok, result.broken_at, result.problem) == (False, victim.seq, "the record was removed")


async def test_a_removed_link_is_found(sealed: Database) -> None:
    links = await entries(sealed)
    victim = links[len(links) // 2]
    async with sealed.engine.begin() as conn:
        await conn.execute(delete(AuditEntry).where(col(AuditEntry.seq) == victim.seq))
    result = await verify(sealed)
    assert (result.ok, result.broken_at, result.problem) == (
        False,
        victim.seq,
        "a link is missing before this one",
    )


async def test_a_changed_link_is_found(sealed: Database) -> None:
    victim = (await entries(sealed))[2]
    async with sealed.engine.begin() as conn:
        await conn.execute(
            update(AuditEntry).where(col(AuditEntry.seq) == victim.seq).values(digest="0" * 64)
        )
    result = await verify(sealed)
    assert (result.ok, result.broken_at, result.problem) == (False, victim.seq, "the link was changed")


async def test_links_cut_off_the_end_are_found(sealed: Database) -> None:
    links = await entries(sealed)
    async with sealed.engine.begin() as conn:
        await conn.execute(delete(AuditEntry).where(col(AuditEntry.seq) > links[-3].seq))
    result = await verify(sealed)
    assert (result.ok, result.links, result.problem) == (
        False,
        len(links) - 2,
        "links at the end of the chain were removed",
    )


async def test_the_cli_exits_1_on_a_broken_chain(hub: Hub, sealed: Database) -> None:
    code, output = await lgsp_audit_verify(hub.settings.database_url)
    assert code == 0 and "intact" in output, output
    victim = next(e for e in await entries(sealed) if e.kind == "exchange")
    async with sealed.engine.begin() as conn:
        await conn.execute(delete(ExchangeRecord).where(col(ExchangeRecord.id) == victim.ref))
    code, output = await lgsp_audit_verify(hub.settings.database_url)
    assert code == 1
    assert f"broken at link {victim.seq}" in output and "removed" in output, output


async def test_auditors_verify_but_change_nothing(hub: Hub, sealed: Database) -> None:
    issued = await hub.client.post("/api/v1/keys", json={"role": "auditor", "label": "quarterly audit"})
    assert issued.status_code == 201, issued.text
    auditor = hub.as_key(issued.json()["api_key"])
    assert (await hub.client.get("/api/v1/audit/verify", headers=auditor)).json()["ok"] is True
    refused = await hub.client.post(
        "/api/v1/systems", json={"code": "X-1", "name": "x", "agency_code": "SO-TP"}, headers=auditor
    )
    assert refused.status_code == 403
    assert (await hub.client.get("/api/v1/audit/verify", headers={"Authorization": ""})).status_code == 401

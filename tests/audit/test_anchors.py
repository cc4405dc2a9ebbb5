"""Anchors: the hub signs its chain's head every LGSP_AUDIT_ANCHOR_INTERVAL, into a file an operator ships
elsewhere and to the NGSP, and verification checks the chain against them, so a tail cut off (links and
records together) or sealed again differently is found."""

import asyncio
import base64
import json

from sqlalchemy import select, update
from sqlmodel import col

from buscore.signing import SignerKey
from lgsp.audit.models import AuditEntry
from lgsp.audit.service import digest, link_hash, verify
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from lgsp.settings import Settings
from sandbox.ngsp.service import running_gateway
from schemas.messages import Signature
from tests.audit.support import (
    ANCHOR_INTERVAL,
    RESEALED,
    TRUNCATED,
    anchor_documents,
    anchored,
    delete_tail,
    hub_public_key,
    lgsp_audit_verify,
    signed_by,
)
from tests.support import Broker, Hub, eventually


async def test_the_anchor_file_verifies_with_the_hubs_public_key(hub: Hub, sealed: Database) -> None:
    links = await anchored(hub, sealed)
    assert hub.settings.audit_anchor_file is not None
    documents = anchor_documents(hub.settings.audit_anchor_file)
    public_key = await hub_public_key(hub)
    by_seq = {link.seq: link.hash for link in links}
    for document in documents:
        assert document["type"] == "audit_anchor" and document["province"] == hub.settings.province
        assert signed_by(document, public_key), document
        if document["links"]:
            assert by_seq[document["links"]] == document["head"], "each anchor signs a link of the chain"
    assert documents[-1]["links"] == len(links)
    # What it signs cannot be changed, nor signed by someone else.
    forged = documents[-1] | {"links": len(links) + 1}
    assert not signed_by(forged, public_key)
    assert not signed_by(documents[-1], bytes(32))


async def test_a_truncated_tail_is_found_against_the_latest_anchor(hub: Hub, sealed: Database) -> None:
    links = await anchored(hub, sealed)
    assert hub.settings.audit_anchor_file is not None
    anchors = str(hub.settings.audit_anchor_file)
    hub_key = base64.b64encode(await hub_public_key(hub)).decode()
    code, output = await lgsp_audit_verify(
        hub.settings.database_url, "--anchors", anchors, "--hub-key", hub_key
    )
    assert code == 0 and "intact" in output and f"anchor of link {len(links)}" in output, output

    await delete_tail(sealed, keep=len(links) - 3)  # the last three links, and their records with them

    assert (await verify(sealed)).ok, "the chain alone looks whole: only an anchor tells"
    body = (await hub.client.get("/api/v1/audit/verify")).json()
    assert (body["ok"], body["problem"], body["broken_at"]) == (False, TRUNCATED, len(links) - 2), body
    assert body["anchor_links"] == len(links) and body["links"] == len(links) - 3
    code, output = await lgsp_audit_verify(
        hub.settings.database_url, "--anchors", anchors, "--hub-key", hub_key
    )
    assert code == 1 and f"broken at link {len(links) - 2}" in output and TRUNCATED in output, output
    # Nor does the hub anchor the shortened chain: it no longer holds the link the hub anchored last.
    await asyncio.sleep(5 * ANCHOR_INTERVAL)
    documents = anchor_documents(hub.settings.audit_anchor_file)
    since = next(i for i, d in enumerate(documents) if d["links"] == len(links))
    assert all(d["links"] == len(links) for d in documents[since:])


async def test_a_tail_sealed_again_differently_is_found(hub: Hub, sealed: Database) -> None:
    links = await anchored(hub, sealed)
    victim = [link for link in links if link.kind == "exchange"][-1]
    # Someone with write access changes a record and recomputes every link from it to the end.
    async with sealed.engine.begin() as conn:
        await conn.execute(
            update(ExchangeRecord).where(col(ExchangeRecord.id) == victim.ref).values(outcome="fault")
        )
        changed = (
            await conn.execute(select(ExchangeRecord).where(col(ExchangeRecord.id) == victim.ref))
        ).one()
        prev = victim.prev_hash
        for link in links[victim.seq - 1 :]:
            record_digest = digest(changed._mapping) if link.seq == victim.seq else link.digest
            new_hash = link_hash(prev, link.seq, link.kind, link.ref, record_digest)
            await conn.execute(
                update(AuditEntry)
                .where(col(AuditEntry.seq) == link.seq)
                .values(digest=record_digest, prev_hash=prev, hash=new_hash)
            )
            prev = new_hash

    assert (await verify(sealed)).ok, "the chain alone looks whole: only an anchor tells"
    body = (await hub.client.get("/api/v1/audit/verify")).json()
    assert (body["ok"], body["problem"]) == (False, RESEALED), body
    assert victim.seq <= body["broken_at"] <= len(links) and body["anchor_links"] == body["broken_at"]


async def test_the_ngsp_stub_keeps_the_signed_anchors(
    hub: Hub, sealed: Database, settings: Settings, broker: Broker
) -> None:
    links = await anchored(hub, sealed)
    public_key = await hub_public_key(hub)
    async with running_gateway(settings, broker.bootstrap) as gateway:

        async def the_head_is_kept() -> bool:
            return any(
                (a["links"], a["head"]) == (len(links), links[-1].hash) for a in await gateway.anchors()
            )

        await eventually(the_head_is_kept, timeout=20, what="the NGSP stub to keep the newest anchor")
        kept = await gateway.anchors()
    by_seq = {link.seq: link.hash for link in links}
    for anchor in kept:
        assert anchor["province"] == hub.settings.province
        assert anchor["links"] == 0 or by_seq[anchor["links"]] == anchor["head"]
        # The NGSP keeps what the hub signed: anyone with the hub's public key checks it again.
        statement = json.loads(anchor["statement"])
        assert (statement["type"], statement["links"], statement["head"]) == (
            "audit_anchor",
            anchor["links"],
            anchor["head"],
        )
        signature = Signature.model_validate_json(anchor["signature"])
        assert SignerKey(signature.signer, "@hub", public_key).verifies(
            anchor["statement"].encode(), signature
        )

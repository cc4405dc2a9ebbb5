"""What the audit tests share: the chain as stored, the anchor file as an outsider reads it, and the
`lgsp audit verify` command run as an auditor runs it."""

import asyncio
import base64
import json
import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import col

from buscore.signing import SignerKey, signed_statement
from lgsp.audit.models import AuditEntry, IndicatorSnapshot, RegistryEvent
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from schemas.common import utcnow
from schemas.messages import Signature
from tests.support import Hub, eventually

EXCHANGES = 5
#: Seconds between anchors in these tests (an hour's worth of them in a few seconds).
ANCHOR_INTERVAL = 0.3
TRUNCATED = "links at the end of the chain were removed"
RESEALED = "the link is not the one anchored: the chain was re-sealed"
#: The tables of the kinds the `sealed` fixture makes, by kind, with their key column.
TABLES: dict[str, tuple[Any, str]] = {
    "registry": (RegistryEvent, "id"),
    "exchange": (ExchangeRecord, "id"),
    "indicators": (IndicatorSnapshot, "id"),
}


async def entries(database: Database) -> list[AuditEntry]:
    """Every link of the chain, in order."""
    async with database.sessions() as session:
        return list((await session.exec(select(AuditEntry).order_by(col(AuditEntry.seq)))).scalars())


async def delete_tail(database: Database, keep: int) -> None:
    """Delete the links after link `keep` and the records they seal, leaving no trace of either."""
    async with database.engine.begin() as conn:
        tail = (await conn.execute(select(AuditEntry).where(col(AuditEntry.seq) > keep))).all()
        for link in tail:
            table, key = TABLES[link.kind]
            ref: Any = link.ref if table is ExchangeRecord else int(link.ref)
            await conn.execute(delete(table).where(getattr(table, key) == ref))
        await conn.execute(delete(AuditEntry).where(col(AuditEntry.seq) > keep))


async def hub_public_key(hub: Hub) -> bytes:
    """The hub's public key, as anyone reads it from GET /api/v1/bus/trust."""
    trust = (await hub.client.get("/api/v1/bus/trust")).json()
    [key] = [k["public_key"] for k in trust["keys"] if k["owner"] == "@hub"]
    return base64.b64decode(key)


def anchor_documents(path: Path) -> list[dict[str, Any]]:
    """The anchors of an anchor file, one JSON object a line."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def signed_by(document: Mapping[str, Any], public_key: bytes) -> bool:
    """Whether `document` (a message as JSON) carries a valid signature of `public_key`: what an offline
    verifier does with the bus contract's signing rules (buscore.signing), nothing of the hub's code."""
    signature = Signature.model_validate(document["signature"])
    statement = signed_statement(json.dumps(dict(document)).encode(), signature)
    key = SignerKey(signature.signer, "@hub", public_key)
    return statement is not None and key.verifies(statement, signature)


async def anchored(hub: Hub, database: Database) -> list[AuditEntry]:
    """Wait until the hub's newest anchor in its file signs the chain's last link; the chain's links."""
    path = hub.settings.audit_anchor_file
    assert path is not None, "the audit tests' hub anchors into a file"
    links: list[AuditEntry] = []

    async def latest_is_the_head() -> bool:
        nonlocal links
        links = await entries(database)
        documents = anchor_documents(path)
        return bool(links and documents) and (documents[-1]["links"], documents[-1]["head"]) == (
            links[-1].seq,
            links[-1].hash,
        )

    await eventually(latest_is_the_head, timeout=15, what="an anchor of the chain's last link")
    return links


async def lgsp_audit_verify(database_url: str, *options: str) -> tuple[int, str]:
    """Run the installed `lgsp audit verify` command against `database_url`; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("lgsp")),
        "audit",
        "verify",
        *options,
        env=os.environ | {"LGSP_DATABASE_URL": database_url, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def dossier_rows(dossier_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A dossier, its two components and the two documents it brought into the ledger, as the ledger
    writes them."""
    dossier = {
        "id": dossier_id,
        "office": "MOT-CUA",
        "procedure": "marriage-registration",
        "applicant_hash": "a" * 64,
        "received_on": date(2026, 3, 2),
        "components": 2,
        "reused": 1,
        "first_submissions": 1,
        "resubmissions": 0,
        "recorded_at": utcnow(),
    }
    components = [
        {
            "dossier_id": dossier_id,
            "document_type": "identity",
            "holder": "VN/DAN-CU",
            "outcome": "reused",
            "lookup": "held",
            "reason": "",
            "cause": None,
        },
        {
            "dossier_id": dossier_id,
            "document_type": "marital-status-confirmation",
            "holder": "HO-TICH",
            "outcome": "first_submission",
            "lookup": "holder_unreachable",
            "reason": "server.timeout",
            "cause": None,
        },
    ]
    documents = [
        {
            "document_type": kind,
            "subject_hash": "a" * 64,
            "content_hash": digit * 64,
            "holder": "HO-TICH",
            "issued_on": date(2026, 2, 20),
            "valid_until": None,
            "accepted_on": date(2026, 3, 2),
            "dossier_id": dossier_id,
        }
        for kind, digit in (("marital-status-confirmation", "2"), ("marriage-certificate", "3"))
    ]
    return dossier, components, documents

"""Evidence of an exchange: the client's signature of its request and the provider's (or the NGSP's) of
its answer, kept with the record, so an auditor can later prove who asked what and who answered
(X-Road's non-repudiation) without the payloads: a statement holds a salted hash of its personal fields.
"""

import json
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from buscore.signing import NGSP, SignerKey, Trust, unb64
from lgsp.bus import Delivery
from lgsp.exchange.models import ExchangeRecord, Outcome
from lgsp.registry.models import ApiKey, System


def evidence_of(delivery: Delivery[Any]) -> str | None:
    """What the record keeps of a signed bus message: the signer, the statement and the signature."""
    signature = delivery.message.signature
    if signature is None or delivery.statement is None:
        return None
    return json.dumps(
        {"signer": signature.signer, "statement": delivery.statement.decode(), "signature": signature.value}
    )


class SignedStatement(BaseModel):
    """One signed message of an exchange, checked again now."""

    signer: str = Field(description="The key that signed: a system key's id, or @ngsp:<fingerprint>")
    owner: str | None = Field(description="Whose key it is (a system code, @hub or @ngsp); null if unknown")
    key_revoked: bool = Field(description="Revoked since (the signature was checked when it arrived)")
    statement: dict[str, Any] = Field(description="What was signed; personal fields only as body_sha256")
    signature: str = Field(description="Base64 of the Ed25519 signature")
    verified: bool = Field(
        description="The signature verifies, by the party the record names, of this exchange"
    )
    problem: str | None = Field(default=None, description="Why it does not verify")


class ExchangeEvidence(BaseModel):
    """The signatures behind an exchange record."""

    exchange_id: str
    client: str
    provider: str
    service: str
    outcome: Outcome
    request: SignedStatement | None = Field(
        description="Null for a REST request (its API key authenticated it)"
    )
    response: SignedStatement | None = Field(
        description="Null until answered, or when the hub answered itself"
    )
    verified: bool = Field(description="Every signature present verifies")


async def _keys(session: AsyncSession, kids: set[str], trust: Trust) -> dict[str, SignerKey]:
    found = {kid: key for kid in kids if (key := trust.key(kid)) is not None}
    wanted = [kid for kid in kids - found.keys() if len(kid) <= 32]
    if wanted:
        rows = await session.exec(
            select(ApiKey.lookup, ApiKey.verify_key, ApiKey.revoked_at, System.code)
            .join(System, col(System.id) == col(ApiKey.system_id))
            .where(col(ApiKey.lookup).in_(wanted), col(ApiKey.verify_key).is_not(None))
        )
        for lookup, verify_key, revoked_at, code in rows:
            public = unb64(verify_key or "")
            if public is not None:
                found[lookup] = SignerKey(lookup, code, public, revoked=revoked_at is not None)
    return found


def _check(kept: str, keys: dict[str, SignerKey], owner: str, expected: dict[str, str]) -> SignedStatement:
    evidence = json.loads(kept)
    statement = json.loads(evidence["statement"])
    key = keys.get(evidence["signer"])
    problem = None
    if key is None:
        problem = "the signing key is unknown"
    elif key.owner != owner:
        problem = f"the key is {key.owner}'s, not {owner}'s"
    elif not key.verifies(evidence["statement"].encode(), evidence["signature"]):
        problem = "the signature does not verify: the statement was altered"
    else:
        wrong = [name for name, value in expected.items() if statement.get(name) != value]
        if wrong:
            problem = f"the statement is not this exchange's ({', '.join(wrong)} differ)"
    return SignedStatement(
        signer=evidence["signer"],
        owner=key.owner if key else None,
        key_revoked=bool(key and key.revoked),
        statement=statement,
        signature=evidence["signature"],
        verified=problem is None,
        problem=problem,
    )


async def exchange_evidence(session: AsyncSession, record: ExchangeRecord, trust: Trust) -> ExchangeEvidence:
    """The record's signatures, each verified again with the key that made it (revoked or not)."""
    kept = [e for e in (record.request_evidence, record.response_evidence) if e is not None]
    keys = await _keys(session, {json.loads(e)["signer"] for e in kept}, trust)
    request = response = None
    if record.request_evidence is not None:
        request = _check(
            record.request_evidence,
            keys,
            record.client,
            {
                "message_id": record.id,
                "client": record.client,
                "provider": record.provider,
                "service": record.service,
            },
        )
    if record.response_evidence is not None:
        answerer = NGSP if record.crossed_ngsp else record.provider
        response = _check(
            record.response_evidence, keys, answerer, {"exchange_id": record.id, "provider": record.provider}
        )
    return ExchangeEvidence(
        exchange_id=record.id,
        client=record.client,
        provider=record.provider,
        service=record.service,
        outcome=record.outcome,
        request=request,
        response=response,
        verified=all(part.verified for part in (request, response) if part is not None),
    )

"""A person's accesses, found by the hashes their id is stored under, and the counts per purpose."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.catalogue.models import Service
from lgsp.exchange.models import ExchangeRecord, Outcome
from lgsp.registry.models import Agency, System
from lgsp.tracker.models import Access, PurposeCount
from schemas.purposes import PURPOSES

#: The most accesses one CSV download holds: a person's whole history, however long, stays bounded.
CSV_LIMIT = 10_000

_client, _holder = aliased(System), aliased(System)
_client_agency, _holder_agency = aliased(Agency), aliased(Agency)
_offered = aliased(Service)


def _filters(hashes: Sequence[str], start: datetime | None, end: datetime | None) -> list[Any]:
    where: list[Any] = [col(ExchangeRecord.subject_hash).in_(list(hashes))]
    if start is not None:
        where.append(col(ExchangeRecord.request_in_at) >= start)
    if end is not None:
        where.append(col(ExchangeRecord.request_in_at) < end)
    return where


def _access(row: Any) -> Access:
    purpose = PURPOSES.get(row.purpose) if row.purpose else None
    return Access(
        exchange_id=row.id,
        at=row.request_in_at,
        agency=row.agency,
        agency_name=row.agency_name,
        system=row.client,
        system_name=row.system_name,
        holder=row.provider,
        holder_name=row.holder_name,
        holder_agency=row.holder_agency,
        holder_agency_name=row.holder_agency_name,
        service=row.service,
        service_description=row.service_description or None,
        purpose=row.purpose,
        purpose_vi=purpose.label_vi if purpose else None,
        purpose_en=purpose.label_en if purpose else None,
        outcome=Outcome(row.outcome),
        fault_code=row.fault_code,
        crossed_ngsp=row.crossed_ngsp,
    )


async def accesses(
    session: AsyncSession,
    hashes: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[Access], int]:
    """The accesses recorded under any of `hashes` in [start, end), newest first, and how many there are.

    Each names its parties as the registry knows them now (a retired system keeps its name); a holder
    beyond the province is known by its address only."""
    where = _filters(hashes, start, end)
    record = ExchangeRecord
    query = (
        select(
            col(record.id),
            col(record.request_in_at),
            col(record.client),
            col(record.provider),
            col(record.service),
            col(record.purpose),
            col(record.outcome),
            col(record.fault_code),
            col(record.crossed_ngsp),
            _client.name.label("system_name"),  # type: ignore[attr-defined]
            _client.agency_code.label("agency"),  # type: ignore[attr-defined]
            _client_agency.name.label("agency_name"),  # type: ignore[attr-defined]
            _holder.name.label("holder_name"),  # type: ignore[attr-defined]
            _holder.agency_code.label("holder_agency"),  # type: ignore[attr-defined]
            _holder_agency.name.label("holder_agency_name"),  # type: ignore[attr-defined]
            _offered.description.label("service_description"),  # type: ignore[attr-defined]
        )
        .select_from(record)
        .outerjoin(_client, _client.code == record.client)  # type: ignore[arg-type]
        .outerjoin(_client_agency, _client_agency.code == _client.agency_code)  # type: ignore[arg-type]
        .outerjoin(_holder, _holder.code == record.provider)  # type: ignore[arg-type]
        .outerjoin(_holder_agency, _holder_agency.code == _holder.agency_code)  # type: ignore[arg-type]
        .outerjoin(
            _offered,
            and_(_offered.system_id == _holder.id, _offered.code == record.service),  # type: ignore[arg-type]
        )
        .where(*where)
        .order_by(col(record.request_in_at).desc(), col(record.id))
        .limit(limit)
        .offset(offset)
    )
    # Rows of joined columns, not models: read through the session's connection.
    connection = await session.connection()
    rows = (await connection.execute(query)).all()
    total = (await connection.execute(select(func.count()).select_from(record).where(*where))).scalar_one()
    return [_access(row) for row in rows], int(total)


async def purpose_counts(
    session: AsyncSession, start: datetime | None, end: datetime | None
) -> list[PurposeCount]:
    """Exchanges about a subject in [start, end), counted per purpose, the most frequent first.

    Counts only: no hash, no party, nothing that tells one person from another."""
    record = ExchangeRecord
    where: list[Any] = [col(record.subject_hash).is_not(None)]
    if start is not None:
        where.append(col(record.request_in_at) >= start)
    if end is not None:
        where.append(col(record.request_in_at) < end)
    faults = func.sum(case((col(record.outcome) == Outcome.FAULT.value, 1), else_=0))
    query = (
        select(col(record.purpose), func.count().label("exchanges"), faults.label("faults"))
        .where(*where)
        .group_by(col(record.purpose))
    )
    counts = []
    for row in (await (await session.connection()).execute(query)).all():
        purpose = PURPOSES.get(row.purpose) if row.purpose else None
        counts.append(
            PurposeCount(
                purpose=row.purpose,
                label_vi=purpose.label_vi if purpose else None,
                label_en=purpose.label_en if purpose else None,
                exchanges=int(row.exchanges),
                faults=int(row.faults or 0),
            )
        )
    return sorted(counts, key=lambda c: (-c.exchanges, c.purpose or ""))

"""Dossiers over REST: for admins, operators and auditors."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy import func
from sqlmodel import col, select

from lgsp.api.paging import Limit, Offset, Page
from lgsp.api.params import PeriodEnd, PeriodStart, check_period
from lgsp.errors import NotFound, error_responses
from lgsp.onceonly.models import Dossier, DossierComponentPublic, DossierComponentRecord, DossierPublic
from lgsp.registry.auth import CallerDep
from lgsp.registry.caller import READERS
from lgsp.runtime import SessionDep
from schemas.onceonly import Code

router = APIRouter(prefix="/api/v1", tags=["once-only"], responses=error_responses(401, 403, 422))


class DossierDetail(DossierPublic):
    """A dossier with what happened to each of its required documents."""

    documents: list[DossierComponentPublic]


@router.get("/dossiers", response_model=Page[DossierPublic])
async def list_dossiers(
    session: SessionDep,
    caller: CallerDep,
    limit: Limit = 100,
    offset: Offset = 0,
    # A procedure code or nothing: other text matches nothing, and PostgreSQL would refuse a NUL (a 500).
    procedure: Annotated[Code | None, Query()] = None,
    resubmitted: Annotated[bool | None, Query(description="Only dossiers with (or without) one")] = None,
    start: PeriodStart = None,
    end: PeriodEnd = None,
) -> Page[DossierPublic]:
    """Recorded dossiers, newest first; applicants appear only as keyed hashes."""
    caller.require(*READERS)
    check_period(start, end)
    query = select(Dossier)
    if procedure is not None:
        query = query.where(col(Dossier.procedure) == procedure)
    if resubmitted is not None:
        query = query.where((col(Dossier.resubmissions) > 0) == resubmitted)
    if start is not None:
        query = query.where(col(Dossier.received_on) >= start)
    if end is not None:
        query = query.where(col(Dossier.received_on) < end)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.exec(
        query.order_by(col(Dossier.received_on).desc(), col(Dossier.id)).limit(limit).offset(offset)
    )
    return Page(
        items=[DossierPublic.model_validate(r) for r in rows],
        total=int(total or 0),
        limit=limit,
        offset=offset,
    )


@router.get("/dossiers/{dossier_id}", response_model=DossierDetail, responses=error_responses(404))
async def get_dossier(
    # Letters, digits and dashes (a UUID, as one-stop shops send them): PostgreSQL refuses a NUL (a 500).
    dossier_id: Annotated[str, Path(pattern=r"^[0-9A-Za-z-]+$", description="The dossier's id")],
    session: SessionDep,
    caller: CallerDep,
) -> DossierDetail:
    """One dossier with its documents: reused, submitted first time, or re-submitted and why."""
    caller.require(*READERS)
    dossier = await session.get(Dossier, dossier_id[:36])
    if dossier is None:
        raise NotFound(f"no dossier {dossier_id}")
    parts = await session.exec(
        select(DossierComponentRecord)
        .where(col(DossierComponentRecord.dossier_id) == dossier.id)
        .order_by(col(DossierComponentRecord.id))
    )
    return DossierDetail.model_validate(
        dossier, update={"documents": [DossierComponentPublic.model_validate(p) for p in parts]}
    )

"""The data tracker over HTTP: the purposes, a person's own accesses (JSON and CSV) and the page at /me,
and the operators' counts per purpose."""

import csv
import io
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lgsp.api.paging import Limit, Offset, Page
from lgsp.api.params import PeriodEnd, PeriodStart, check_period
from lgsp.errors import ErrorBody, Forbidden, Unauthenticated, error_responses
from lgsp.registry.auth import CallerDep, authenticate
from lgsp.registry.caller import READERS
from lgsp.reports.tables import csv_text
from lgsp.runtime import Runtime, RuntimeDep, SessionDep, SettingsDep
from lgsp.security import split_key
from lgsp.tracker import page, service
from lgsp.tracker.identity import Citizen, verify_citizen_token
from lgsp.tracker.models import Access, PurposeReport
from schemas.common import utcnow
from schemas.purposes import PURPOSES, Purpose

router = APIRouter(tags=["data tracker"])

_citizen_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CitizenToken",
    description="The token the citizen's identity provider (VNeID) signed: never an API key",
)


async def signed_in_citizen(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_citizen_bearer)],
) -> Citizen:
    """The person the bearer token speaks for: 401 without a valid citizen token, 403 for a platform key
    (an admin, an operator, a system: none of them may read a person's accesses)."""
    if credentials is None:
        raise Unauthenticated("missing citizen token: sign in with your identity provider (VNeID)")
    token = credentials.credentials
    if settings.accepts_admin_token(token) or split_key(token) is not None:
        await authenticate(session, settings, credentials)  # 401 for an unknown or revoked key
        raise Forbidden(
            "a person's accesses are for that person alone: sign in as the person, not with a key"
        )
    return verify_citizen_token(token, settings, utcnow())


CitizenDep = Annotated[Citizen, Depends(signed_in_citizen)]
#: What a person's routes may answer besides their own: the sign-in's refusals, a bad period, and 503
#: while the hub has no identity provider to believe.
CITIZEN_ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses(401, 403, 422),
    503: {"model": ErrorBody, "description": "No identity provider is configured (LGSP_CITIZEN_ISSUER_KEY)"},
}


def _subject_hashes(runtime: Runtime, subject: str) -> list[str]:
    """Every hash the hub may have stored `subject` under (each platform key, current and rotated out):
    the one place the tracker turns a person into what the records hold."""
    return runtime.keys.subject_hashes(subject)


def _instant(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), UTC)


@router.get("/api/v1/purposes", tags=["catalogue"], response_model=list[Purpose])
async def list_purposes() -> list[Purpose]:
    """The purposes a request about a person may name (public: they say why, not about whom)."""
    return list(PURPOSES.values())


@router.get("/api/v1/me/accesses", response_model=Page[Access], responses=CITIZEN_ERRORS)
async def my_accesses(
    citizen: CitizenDep,
    session: SessionDep,
    runtime: RuntimeDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[Access]:
    """Every exchange about the signed-in person over the days [from, to) in UTC, newest first: which
    agency and system asked which holder for which service, when, for what purpose, and the outcome.
    Never the payload. The person is who their token says (`sub`), never an id sent otherwise."""
    check_period(start, end)
    hashes = _subject_hashes(runtime, citizen.personal_id)
    items, total = await service.accesses(session, hashes, _instant(start), _instant(end), limit, offset)
    return Page(items=items, total=total, limit=limit, offset=offset)


#: The columns of the CSV download, in order: the fields of an access.
CSV_COLUMNS = list(Access.model_fields)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_text(str(value))  # whatever a provider or an integrator wrote may look like a formula


@router.get(
    "/api/v1/me/accesses.csv",
    responses={200: {"content": {"text/csv": {}}}, **CITIZEN_ERRORS},
    response_class=Response,
)
async def my_accesses_csv(
    citizen: CitizenDep,
    session: SessionDep,
    runtime: RuntimeDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
) -> Response:
    """The same accesses as a CSV file (up to 10,000, newest first), every text cell neutralised against
    spreadsheet formulas."""
    check_period(start, end)
    hashes = _subject_hashes(runtime, citizen.personal_id)
    items, _ = await service.accesses(session, hashes, _instant(start), _instant(end), service.CSV_LIMIT, 0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for access in items:
        writer.writerow([_csv_cell(getattr(access, column)) for column in CSV_COLUMNS])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="accesses.csv"', "Cache-Control": "no-store"},
    )


@router.get(
    "/api/v1/reports/purposes",
    tags=["reports"],
    response_model=PurposeReport,
    responses=error_responses(401, 403, 422),
)
async def purposes_report(
    caller: CallerDep, session: SessionDep, start: PeriodStart = None, end: PeriodEnd = None
) -> PurposeReport:
    """Exchanges about people over the days [from, to) in UTC, counted per purpose (for admins, operators
    and auditors): how often each reason was given, and how often refused or failed; never who."""
    caller.require(*READERS)
    check_period(start, end)
    counts = await service.purpose_counts(session, _instant(start), _instant(end))
    return PurposeReport(start=start, end=end, purposes=counts)


@router.get("/me", response_class=HTMLResponse, summary="My data: who used it")
async def me_page() -> HTMLResponse:
    """The person's page (Vietnamese and English): signs in with the identity provider's token, shows
    GET /api/v1/me/accesses and downloads it as CSV. Static: it holds nobody's data."""
    return HTMLResponse(page.PAGE, headers=page.HEADERS)

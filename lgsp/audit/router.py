"""GET /api/v1/audit/verify: walk the audit chain (admins, operators and auditors)."""

from fastapi import APIRouter

from lgsp.audit.service import Verification, verify
from lgsp.errors import error_responses
from lgsp.registry.auth import CallerDep
from lgsp.registry.models import Role
from lgsp.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=error_responses(401, 403))


@router.get("/verify", response_model=Verification)
async def verify_chain(caller: CallerDep, runtime: RuntimeDep) -> Verification:
    """Check every link of the hash chain over exchange records, registry changes and indicator
    snapshots; `ok` is false with the first broken link and what is wrong with it."""
    caller.require(Role.ADMIN, Role.OPERATOR, Role.AUDITOR)
    return await verify(runtime.database)

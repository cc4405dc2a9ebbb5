"""GET /api/v1/audit/verify: walk the audit chain (admins, operators and auditors)."""

import asyncio

from fastapi import APIRouter

from lgsp.audit.anchors import read_anchor_file
from lgsp.audit.service import Verification, verify
from lgsp.errors import error_responses
from lgsp.registry.auth import CallerDep
from lgsp.registry.models import Role
from lgsp.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=error_responses(401, 403))


@router.get("/verify", response_model=Verification)
async def verify_chain(caller: CallerDep, runtime: RuntimeDep) -> Verification:
    """Check every link of the hash chain over exchange records, registry changes, indicator snapshots,
    link state changes, hub uptime and dossiers, and the chain against the anchors of this hub's anchor
    file (LGSP_AUDIT_ANCHOR_FILE); `ok` is false with the first broken link and what is wrong with it."""
    caller.require(Role.ADMIN, Role.OPERATOR, Role.AUDITOR)
    path = runtime.settings.audit_anchor_file
    # Checking each anchor's signature is CPU work: off the event loop.
    anchors = await asyncio.to_thread(read_anchor_file, path, runtime.trust) if path is not None else None
    return await verify(runtime.database, anchors)

"""Evaluation: each link's stored state brought in line with its verdict now, and every transition
recorded as a `LinkStateChange` (the source of every period report).

`settle` is the decision for one link, a pure function; `evaluate` applies it to the systems whose stored
verdict no longer holds (`rules.stale_verdicts`), usually none or a few, so evaluating every second stays
cheap with ten thousand systems.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy import select as columns
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from lgsp.connectivity.models import LinkStateChange, SystemStatus
from lgsp.connectivity.rules import REASON_LENGTH, Thresholds, Verdict, stale_verdicts, verdicts
from lgsp.registry.models import System
from monitoring.metrics import STATE_CHANGES
from schemas.common import Link

#: Systems whose verdict changed handled between two yields of the event loop.
EVALUATE_CHUNK = 500

#: The evidence and the stored links of every system (the evaluator adds which rows to read).
_EVIDENCE = columns(
    col(System.id),
    col(System.code),
    col(System.exempt),
    col(System.exempt_reason),
    col(System.retired_at),
    col(SystemStatus.session_id),
    col(SystemStatus.last_heartbeat_at),
    col(SystemStatus.last_probe_ok_at),
    col(SystemStatus.ngsp_registered),
    col(SystemStatus.last_ngsp_probe_ok_at),
    col(SystemStatus.lgsp_connected),
    col(SystemStatus.lgsp_since),
    col(SystemStatus.lgsp_reason),
    col(SystemStatus.ngsp_connected),
    col(SystemStatus.ngsp_since),
    col(SystemStatus.ngsp_reason),
).join(SystemStatus, col(SystemStatus.system_id) == col(System.id))

_SET_LINKS = (
    update(SystemStatus)
    .where(col(SystemStatus.system_id) == bindparam("b_id"))
    .values(
        lgsp_connected=bindparam("b_lgsp_connected"),
        lgsp_since=bindparam("b_lgsp_since"),
        lgsp_reason=bindparam("b_lgsp_reason"),
        ngsp_connected=bindparam("b_ngsp_connected"),
        ngsp_since=bindparam("b_ngsp_since"),
        ngsp_reason=bindparam("b_ngsp_reason"),
    )
)


@dataclass(frozen=True, slots=True)
class LinkState:
    """A link's stored state: connected or not, since when (None: never connected), and why."""

    connected: bool
    since: datetime | None
    reason: str


def settle(stored: LinkState, verdict: Verdict, now: datetime, *, warm: bool) -> LinkState:
    """The state to store for a link whose verdict at `now` is `verdict`.

    A connection or a loss starts at `now`; a new reason for the same state keeps its `since`. While the
    hub is `warm` (just (re)started, or back on the bus) a connected link is not dropped: its evidence
    may be stale because the hub was away, not the system.
    """
    if stored.connected and not verdict.connected and warm:
        return stored
    reason = verdict.reason[:REASON_LENGTH]
    if stored.connected == verdict.connected:
        return replace(stored, reason=reason)
    return LinkState(verdict.connected, now, reason)


def _stored(row: Any, link: Link) -> LinkState:
    return LinkState(
        getattr(row, f"{link.value}_connected"),
        getattr(row, f"{link.value}_since"),
        getattr(row, f"{link.value}_reason"),
    )


async def evaluate(
    conn: AsyncConnection, now: datetime, limits: Thresholds, *, warm: bool, owned: Callable[[str], bool]
) -> None:
    """Settle both links of every system `owned` (by code) whose stored verdict no longer holds at `now`;
    store the new states and one `LinkStateChange` per transition."""
    rows = await conn.execute(_EVIDENCE.where(stale_verdicts(now, limits)))
    for chunk in rows.partitions(EVALUATE_CHUNK):  # many only when many systems change at once
        links: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        for row in chunk:
            if not owned(row.code):
                continue
            lgsp, ngsp = verdicts(
                row,
                exempt=row.exempt,
                exempt_because=row.exempt_reason,
                retired=row.retired_at is not None,
                now=now,
                limits=limits,
            )
            # Both links are written whenever either changed: one statement shape for the executemany.
            values: dict[str, Any] = {"b_id": row.id}
            changed = False
            for link, verdict in ((Link.LGSP, lgsp), (Link.NGSP, ngsp)):
                stored = _stored(row, link)
                state = settle(stored, verdict, now, warm=warm)
                changed |= state != stored
                if state.connected != stored.connected:
                    changes.append(
                        {
                            "system_id": row.id,
                            "link": link,
                            "connected": state.connected,
                            "at": now,
                            "reason": state.reason,
                        }
                    )
                    STATE_CHANGES.labels(link.value, str(state.connected).lower()).inc()
                values |= {
                    f"b_{link.value}_connected": state.connected,
                    f"b_{link.value}_since": state.since,
                    f"b_{link.value}_reason": state.reason,
                }
            if changed:
                links.append(values)
        if links:
            await conn.execute(_SET_LINKS, links)
        if changes:
            await conn.execute(insert(LinkStateChange), changes)
        await asyncio.sleep(0)

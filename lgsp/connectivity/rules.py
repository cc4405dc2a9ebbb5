"""docs/architecture/definitions.md as pure functions: is a system connected, per link, at a given time?

The Python functions decide. `stale_verdicts` states the very same rules as SQL, so the evaluator can ask
the database for the few systems whose stored verdict no longer holds instead of loading every system;
tests/connectivity/test_rules_sql.py checks that both agree.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from sqlalchemy import ColumnElement, and_, case, func, literal, or_
from sqlmodel import col

from lgsp.connectivity.models import SystemStatus
from lgsp.registry.models import System

#: Reasons are stored in columns of this length.
REASON_LENGTH = 200

NEVER_SAID_HELLO = "never said hello"
HEARTBEAT_STALE = "heartbeat stale"
NO_PROBE = "no successful probe within the TTL"
LGSP_UP = "heartbeat and probe fresh"
NOT_ACKNOWLEDGED = "not acknowledged in the national catalogue"
NO_NGSP_PROBE = "no successful probe through the NGSP within the TTL"
NGSP_UP = "registered nationally and probe through the NGSP fresh"
RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One link's state and the reason, in words an operator understands."""

    connected: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The time-to-live of each piece of evidence."""

    heartbeat_ttl: timedelta
    probe_ttl: timedelta


class Evidence(Protocol):
    """What the hub last saw of a system (a `SystemStatus`, or a row with the same columns)."""

    @property
    def session_id(self) -> UUID | None: ...
    @property
    def last_heartbeat_at(self) -> datetime | None: ...
    @property
    def last_probe_ok_at(self) -> datetime | None: ...
    @property
    def ngsp_registered(self) -> bool: ...
    @property
    def last_ngsp_probe_ok_at(self) -> datetime | None: ...


def _fresh(at: datetime | None, now: datetime, ttl: timedelta) -> bool:
    return at is not None and now - at <= ttl


def lgsp_verdict(status: Evidence, now: datetime, limits: Thresholds) -> Verdict:
    """Connected to the LGSP: a heartbeat within its TTL and a successful hub probe within its TTL."""
    if status.session_id is None:
        return Verdict(False, NEVER_SAID_HELLO)
    if not _fresh(status.last_heartbeat_at, now, limits.heartbeat_ttl):
        return Verdict(False, HEARTBEAT_STALE)
    if not _fresh(status.last_probe_ok_at, now, limits.probe_ttl):
        return Verdict(False, NO_PROBE)
    return Verdict(True, LGSP_UP)


def ngsp_verdict(status: Evidence, lgsp: Verdict, now: datetime, limits: Thresholds) -> Verdict:
    """Connected to the NGSP: connected to the LGSP, acknowledged nationally, probed through the NGSP."""
    if not lgsp.connected:
        return Verdict(False, f"not connected to the LGSP ({lgsp.reason})")
    if not status.ngsp_registered:
        return Verdict(False, NOT_ACKNOWLEDGED)
    if not _fresh(status.last_ngsp_probe_ok_at, now, limits.probe_ttl):
        return Verdict(False, NO_NGSP_PROBE)
    return Verdict(True, NGSP_UP)


def exempt_reason(reason: str | None) -> str:
    """Why an exempt (out-of-scope) system is not linked to the NGSP."""
    return f"exempt ({reason}): not linked to the NGSP"


def verdicts(
    status: Evidence,
    *,
    exempt: bool,
    exempt_because: str | None,
    retired: bool,
    now: datetime,
    limits: Thresholds,
) -> tuple[Verdict, Verdict]:
    """Both links of one registered system: LGSP, then NGSP."""
    if retired:
        return Verdict(False, RETIRED), Verdict(False, RETIRED)
    lgsp = lgsp_verdict(status, now, limits)
    if exempt:
        return lgsp, Verdict(False, exempt_reason(exempt_because))
    return lgsp, ngsp_verdict(status, lgsp, now, limits)


# -- the same rules in SQL -------------------------------------------------------------------------------


def _fresh_sql(at: datetime | None, now: datetime, ttl: timedelta) -> ColumnElement[bool]:
    return and_(col(at).is_not(None), col(at) >= now - ttl)


def reasons_sql(now: datetime, limits: Thresholds) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """The reasons `verdicts` gives each row of `system` joined with `system_status`, as SQL (LGSP, NGSP),
    cut to the stored length. A link is connected exactly when its reason is LGSP_UP or NGSP_UP."""
    hello = col(SystemStatus.session_id).is_not(None)
    heartbeat = _fresh_sql(SystemStatus.last_heartbeat_at, now, limits.heartbeat_ttl)
    probe = _fresh_sql(SystemStatus.last_probe_ok_at, now, limits.probe_ttl)
    retired = col(System.retired_at).is_not(None)
    lgsp = case(
        (retired, literal(RETIRED)),
        (~hello, literal(NEVER_SAID_HELLO)),
        (~heartbeat, literal(HEARTBEAT_STALE)),
        (~probe, literal(NO_PROBE)),
        else_=literal(LGSP_UP),
    )
    ngsp = case(
        (retired, literal(RETIRED)),
        (
            col(System.exempt),
            literal("exempt (")
            + func.coalesce(col(System.exempt_reason), "None")
            + "): not linked to the NGSP",
        ),
        (lgsp != LGSP_UP, literal("not connected to the LGSP (") + lgsp + ")"),
        (~col(SystemStatus.ngsp_registered), literal(NOT_ACKNOWLEDGED)),
        (~_fresh_sql(SystemStatus.last_ngsp_probe_ok_at, now, limits.probe_ttl), literal(NO_NGSP_PROBE)),
        else_=literal(NGSP_UP),
    )
    return func.substr(lgsp, 1, REASON_LENGTH), func.substr(ngsp, 1, REASON_LENGTH)


def stale_verdicts(now: datetime, limits: Thresholds) -> ColumnElement[bool]:
    """SQL condition on `system` joined with `system_status`: the stored state of a link is not what
    `verdicts` says now (a connection, a loss, or only a new reason)."""
    lgsp, ngsp = reasons_sql(now, limits)
    return or_(
        col(SystemStatus.lgsp_reason) != lgsp,
        col(SystemStatus.ngsp_reason) != ngsp,
        col(SystemStatus.lgsp_connected) != (lgsp == LGSP_UP),
        col(SystemStatus.ngsp_connected) != (ngsp == NGSP_UP),
    )

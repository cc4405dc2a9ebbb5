"""DESIGN.md section 5 as a pure function: is a system connected, per link, at a given time?"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from lgsp.connectivity.models import SystemStatus


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


def _fresh(at: datetime | None, now: datetime, ttl: timedelta) -> bool:
    return at is not None and now - at <= ttl


def lgsp_verdict(status: SystemStatus, now: datetime, limits: Thresholds) -> Verdict:
    """Connected to the LGSP: a heartbeat within its TTL and a successful hub probe within its TTL."""
    if status.session_id is None:
        return Verdict(False, "never said hello")
    if not _fresh(status.last_heartbeat_at, now, limits.heartbeat_ttl):
        return Verdict(False, "heartbeat stale")
    if not _fresh(status.last_probe_ok_at, now, limits.probe_ttl):
        return Verdict(False, "no successful probe within the TTL")
    return Verdict(True, "heartbeat and probe fresh")


def ngsp_verdict(status: SystemStatus, lgsp: Verdict, now: datetime, limits: Thresholds) -> Verdict:
    """Connected to the NGSP: connected to the LGSP, acknowledged nationally, probed through the NGSP."""
    if not lgsp.connected:
        return Verdict(False, f"not connected to the LGSP ({lgsp.reason})")
    if not status.ngsp_registered:
        return Verdict(False, "not acknowledged in the national catalogue")
    if not _fresh(status.last_ngsp_probe_ok_at, now, limits.probe_ttl):
        return Verdict(False, "no successful probe through the NGSP within the TTL")
    return Verdict(True, "registered nationally and probe through the NGSP fresh")

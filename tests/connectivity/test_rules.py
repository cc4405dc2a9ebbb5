"""Unit tests of the connectivity definition (docs/architecture/definitions.md) as a pure function."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from lgsp.connectivity.models import SystemStatus
from lgsp.connectivity.rules import Thresholds, lgsp_verdict, ngsp_verdict

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIMITS = Thresholds(heartbeat_ttl=timedelta(seconds=15), probe_ttl=timedelta(seconds=30))


def status(**fields: object) -> SystemStatus:
    base: dict[str, object] = {
        "system_id": 1,
        "session_id": uuid4(),
        "last_heartbeat_at": NOW - timedelta(seconds=5),
        "last_probe_ok_at": NOW - timedelta(seconds=10),
        "ngsp_registered": True,
        "last_ngsp_probe_ok_at": NOW - timedelta(seconds=10),
    }
    return SystemStatus(**(base | fields))


def test_fresh_heartbeat_and_probe_connect_both_links() -> None:
    s = status()
    lgsp = lgsp_verdict(s, NOW, LIMITS)
    assert lgsp.connected
    assert ngsp_verdict(s, lgsp, NOW, LIMITS).connected


def test_heartbeat_exactly_at_ttl_still_counts_and_just_after_does_not() -> None:
    assert lgsp_verdict(status(last_heartbeat_at=NOW - timedelta(seconds=15)), NOW, LIMITS).connected
    stale = lgsp_verdict(status(last_heartbeat_at=NOW - timedelta(seconds=15.001)), NOW, LIMITS)
    assert not stale.connected
    assert stale.reason == "heartbeat stale"


def test_heartbeats_without_a_successful_probe_are_not_enough() -> None:
    assert not lgsp_verdict(status(last_probe_ok_at=None), NOW, LIMITS).connected
    verdict = lgsp_verdict(status(last_probe_ok_at=NOW - timedelta(seconds=31)), NOW, LIMITS)
    assert not verdict.connected
    assert "probe" in verdict.reason


def test_a_system_that_never_said_hello_is_disconnected() -> None:
    verdict = lgsp_verdict(status(session_id=None), NOW, LIMITS)
    assert not verdict.connected
    assert verdict.reason == "never said hello"


def test_ngsp_needs_the_lgsp_link_first() -> None:
    s = status(last_heartbeat_at=NOW - timedelta(minutes=5))
    lgsp = lgsp_verdict(s, NOW, LIMITS)
    ngsp = ngsp_verdict(s, lgsp, NOW, LIMITS)
    assert not ngsp.connected
    assert ngsp.reason.startswith("not connected to the LGSP")


def test_ngsp_needs_registration_and_a_fresh_probe_through_the_ngsp() -> None:
    unregistered = status(ngsp_registered=False)
    lgsp = lgsp_verdict(unregistered, NOW, LIMITS)
    assert lgsp.connected
    assert (
        ngsp_verdict(unregistered, lgsp, NOW, LIMITS).reason == "not acknowledged in the national catalogue"
    )
    stale = status(last_ngsp_probe_ok_at=NOW - timedelta(seconds=45))
    assert not ngsp_verdict(stale, lgsp_verdict(stale, NOW, LIMITS), NOW, LIMITS).connected

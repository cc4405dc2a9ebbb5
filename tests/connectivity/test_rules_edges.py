"""The connectivity verdicts at the edges: each piece of evidence counts up to its TTL inclusive and not a
microsecond longer, on the link it belongs to; exempt and retired systems whatever the evidence.

test_rules.py states the definition case by case; test_rules_sql.py checks the SQL form agrees at these
same edges."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from lgsp.connectivity.models import SystemStatus
from lgsp.connectivity.rules import (
    HEARTBEAT_STALE,
    LGSP_UP,
    NGSP_UP,
    NO_NGSP_PROBE,
    NO_PROBE,
    RETIRED,
    Thresholds,
    Verdict,
    verdicts,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LIMITS = Thresholds(heartbeat_ttl=timedelta(seconds=15), probe_ttl=timedelta(seconds=30))
TICK = timedelta(microseconds=1)
UP = (Verdict(True, LGSP_UP), Verdict(True, NGSP_UP))


def fresh(**evidence: datetime) -> SystemStatus:
    """A registered system with a session and every piece of evidence from NOW, but `evidence`."""
    status = SystemStatus(
        system_id=1,
        session_id=uuid4(),
        ngsp_registered=True,
        last_heartbeat_at=NOW,
        last_probe_ok_at=NOW,
        last_ngsp_probe_ok_at=NOW,
    )
    return status.model_copy(update=evidence)


def judged(status: SystemStatus, *, exempt: bool = False, retired: bool = False) -> tuple[Verdict, Verdict]:
    return verdicts(
        status, exempt=exempt, exempt_because="state secret", retired=retired, now=NOW, limits=LIMITS
    )


@pytest.mark.parametrize(
    ("evidence", "ttl", "expired"),
    [
        (
            "last_heartbeat_at",
            LIMITS.heartbeat_ttl,
            (
                Verdict(False, HEARTBEAT_STALE),
                Verdict(False, f"not connected to the LGSP ({HEARTBEAT_STALE})"),
            ),
        ),
        (
            "last_probe_ok_at",
            LIMITS.probe_ttl,
            (Verdict(False, NO_PROBE), Verdict(False, f"not connected to the LGSP ({NO_PROBE})")),
        ),
        ("last_ngsp_probe_ok_at", LIMITS.probe_ttl, (Verdict(True, LGSP_UP), Verdict(False, NO_NGSP_PROBE))),
    ],
)
def test_evidence_counts_up_to_its_ttl_and_not_a_microsecond_longer(
    evidence: str, ttl: timedelta, expired: tuple[Verdict, Verdict]
) -> None:
    assert judged(fresh(**{evidence: NOW - ttl})) == UP
    assert judged(fresh(**{evidence: NOW - ttl - TICK})) == expired


def test_an_exempt_system_is_judged_on_the_lgsp_link_only() -> None:
    exempt = Verdict(False, "exempt (state secret): not linked to the NGSP")
    assert judged(fresh(), exempt=True) == (Verdict(True, LGSP_UP), exempt)
    stale = fresh(last_heartbeat_at=NOW - LIMITS.heartbeat_ttl - TICK)
    assert judged(stale, exempt=True) == (Verdict(False, HEARTBEAT_STALE), exempt)


def test_a_retired_system_is_disconnected_on_both_links_whatever_the_evidence() -> None:
    assert judged(fresh(), retired=True) == (Verdict(False, RETIRED), Verdict(False, RETIRED))
    assert judged(fresh(), exempt=True, retired=True) == (Verdict(False, RETIRED), Verdict(False, RETIRED))

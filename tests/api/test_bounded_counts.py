"""`GET /api/v1/exchanges` counts at most a bounded number of records per page, never the whole filtered
table (which grows by every exchange the province makes): beyond the cap, `total` is a lower bound and
`total_exact` says so, and paging still knows whether another page follows."""

from datetime import timedelta
from uuid import uuid4

import pytest

from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord, Outcome
from schemas.common import utcnow
from tests.api.statements import statements
from tests.support import Hub

RECORDS = 30
CAP = 10


async def insert_records(database_url: str) -> None:
    """RECORDS settled exchanges, a second apart, straight into the hub's database."""
    database = Database(database_url)
    now = utcnow()
    try:
        async with database.sessions() as session:
            for n in range(RECORDS):
                at = now - timedelta(seconds=n)
                session.add(
                    ExchangeRecord(
                        id=str(uuid4()),
                        client="QLVB",
                        provider="HO-TICH",
                        service="birth-record.get",
                        request_in_at=at,
                        deadline=at + timedelta(seconds=5),
                        outcome=Outcome.SUCCESS,
                    )
                )
            await session.commit()
    finally:
        await database.dispose()


async def test_exchange_pages_count_up_to_a_cap_and_say_when_the_total_is_a_lower_bound(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    await insert_records(hub.settings.database_url)
    with statements() as seen:
        whole = (await hub.client.get("/api/v1/exchanges", params={"limit": 5})).json()
    counts = [s for s in seen if "count(" in s.lower() and "exchange_record" in s]
    assert counts and all("limit" in s.lower() for s in counts), counts
    assert (whole["total"], whole["total_exact"]) == (RECORDS, True)  # under the cap: exact

    monkeypatch.setattr("lgsp.api.counting.COUNT_CAP", CAP)
    first = (await hub.client.get("/api/v1/exchanges", params={"limit": 5})).json()
    assert (len(first["items"]), first["total"], first["total_exact"]) == (5, CAP, False)

    # Further on, the total grows with what the pages have shown; the last page makes it exact.
    middle = (await hub.client.get("/api/v1/exchanges", params={"limit": 5, "offset": 20})).json()
    assert (len(middle["items"]), middle["total_exact"]) == (5, False)
    assert middle["total"] > 25  # at least one more record follows
    last = (await hub.client.get("/api/v1/exchanges", params={"limit": 5, "offset": 27})).json()
    assert (len(last["items"]), last["total"], last["total_exact"]) == (3, RECORDS, True)

    # Under the cap the count is exact, as it always was.
    few = (await hub.client.get("/api/v1/exchanges", params={"outcome": "fault"})).json()
    assert (few["items"], few["total"], few["total_exact"]) == ([], 0, True)

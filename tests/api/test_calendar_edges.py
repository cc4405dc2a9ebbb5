"""Dates and instants at both ends of the calendar, on every route that takes them: a 422 that says
which parameter and why, or an answer, never a 500.

`GET /api/v1/reports/connectivity?to=0001-01-01` was a 500: the report steps a microsecond back from
`to` to find its quarter, and Python's datetime ends at year 1 (OverflowError)."""

from pathlib import Path

import pytest

from tests.reports.test_connectivity_report import lgsp_command
from tests.support import Hub

#: Every route taking a period of days (`from`, `to`), with each of its formats.
PERIOD_ROUTES = [
    "/api/v1/indicators",
    "/api/v1/dossiers",
    "/api/v1/reports/connectivity",
    "/api/v1/reports/connectivity?format=csv",
    "/api/v1/reports/connectivity?format=html",
    "/api/v1/reports/connectivity?outages=true",
    "/api/v1/reports/once-only",
    "/api/v1/reports/once-only?format=csv",
    "/api/v1/reports/once-only?format=html",
]
#: Days outside the accepted range (1900-01-01 to 9999-01-01), at and near both ends of Python's calendar.
EDGE_DAYS = ["0001-01-01", "0001-01-02", "1899-12-31", "9999-01-02", "9999-12-30", "9999-12-31"]


def _with(route: str, query: str) -> str:
    return f"{route}{'&' if '?' in route else '?'}{query}"


async def test_a_period_ending_at_the_start_of_the_calendar_is_a_422_with_a_message(shared_hub: Hub) -> None:
    response = await shared_hub.client.get("/api/v1/reports/connectivity?to=0001-01-01")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "client.bad_request"
    assert "to" in error["message"] and "1900-01-01" in error["message"], error


@pytest.mark.parametrize("route", PERIOD_ROUTES)
async def test_period_days_out_of_range_are_refused_on_every_route(shared_hub: Hub, route: str) -> None:
    for name in ("from", "to"):
        for day in EDGE_DAYS:
            response = await shared_hub.client.get(_with(route, f"{name}={day}"))
            assert response.status_code == 422, (route, name, day, response.text)
            message = response.json()["error"]["message"]
            assert message.startswith(f"query.{name}: "), (route, message)
    # The ends of the accepted range are answered, alone and together.
    for query in ("from=1900-01-01", "to=9999-01-01", "from=1900-01-01&to=9999-01-01", "from=9999-01-01"):
        response = await shared_hub.client.get(_with(route, query))
        assert response.status_code == 200, (route, query, response.text)


#: Instants (the exchange records' `from`, `to`) at both ends, with and without an offset. They are compared
#: with the records' times and nothing else, so they keep the whole calendar; only one that leaves it once
#: in UTC is refused.
EDGE_INSTANTS = {
    "0001-01-01T00:00:00": 200,
    "0001-01-01T00:00:00Z": 200,
    "0001-01-01T00:00:00%2B05:00": 422,
    "9999-12-31T23:59:59.999999": 200,
    "9999-12-31T23:59:59-05:00": 422,
    "9999-12-31T23:59:59Z": 200,
}


async def test_exchange_instants_at_the_ends_of_the_calendar_are_never_a_500(shared_hub: Hub) -> None:
    for name in ("from", "to"):
        for instant, status in EDGE_INSTANTS.items():
            response = await shared_hub.client.get(f"/api/v1/exchanges?{name}={instant}")
            assert response.status_code == status, (name, instant, response.text)
            if status == 422:
                assert response.json()["error"]["message"].startswith(f"query.{name}: ")


async def test_the_report_command_refuses_days_out_of_range(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}"
    for option, day in (("--to", "0001-01-01"), ("--from", "9999-12-31")):
        code, _, err = await lgsp_command(url, "report", "connectivity", option, day)
        assert code == 2, err  # a usage error, not a traceback
        assert "1900-01-01 to 9999-01-01" in err and "Traceback" not in err, err

"""Database sources on real SQLite, PostgreSQL and MariaDB: answers, limits, deadlines, read-only
transactions, and a database that goes away and comes back."""

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from connectors.declarative import SourceError, State, parse_config
from connectors.declarative.config import DatabaseSource, QueryService
from connectors.declarative.database import DatabaseBackend
from connectors.faults import ServiceFault
from tests.connectors.declarative.proxy import Proxy

BY_ID = {"type": "object", "properties": {"id": {"type": "integer"}, "born": {"type": "string"}}}
#: A query that takes longer than any deadline here, in each dialect.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(10)",
    "mariadb": "SELECT SLEEP(10)",
}


def source(url: str, **extra: Any) -> DatabaseSource:
    """A database source on `url` serving person.get, people.born, slow.get and ticket.next."""
    backend = make_url(url.replace("${", "").replace("}", "")).get_backend_name()
    services = [
        {"code": "person.get", "request_schema": BY_ID, "query": "SELECT * FROM people WHERE id = :id"},
        {
            "code": "people.born",
            "request_schema": BY_ID,
            "query": "SELECT name FROM people WHERE id >= :id ORDER BY id",
            "answer": "list",
            "max_rows": 2,
        },
        {"code": "slow.get", "query": SLOW[backend], "timeout_ms": 300},
    ]
    if backend == "postgresql":  # a SELECT that would write: refused by the read-only transaction
        services.append({"code": "ticket.next", "query": "SELECT nextval('tickets') AS n"})
    config = {"system": "HO-TICH", "sources": [{"kind": "database", "name": "people", "url": url, **extra}]}
    config["sources"][0]["services"] = services  # type: ignore[index]
    parsed = parse_config(yaml.safe_dump(config))
    found = parsed.sources[0]
    assert isinstance(found, DatabaseSource)
    return found


def service(src: DatabaseSource, code: str) -> QueryService:
    return next(s for s in src.services if s.code == code)


@pytest.fixture
async def people(people_db: str, tmp_path: Path) -> AsyncIterator[DatabaseBackend]:
    backend = DatabaseBackend(source(people_db), tmp_path)
    await backend.check()
    try:
        yield backend
    finally:
        await backend.close()


async def test_one_row_is_the_record_and_none_is_not_found(people: DatabaseBackend) -> None:
    src = people.source
    answer = await people.answer(service(src, "person.get"), {"id": 1})
    record = answer["record"]
    # An exact NUMERIC is answered as text, to keep its digits; SQLite has no such type, only floats.
    assert record.pop("fee") == (1.5 if people.backend == "sqlite" else "1.50")
    assert answer == {
        "found": True,
        "record": {"id": 1, "citizen_id": "079203001234", "name": "Nguyễn Văn An", "born": "2003-04-05"},
    }
    assert await people.answer(service(src, "person.get"), {"id": 42}) == {"found": False, "record": None}


async def test_a_list_within_its_limit_answers_and_beyond_it_is_a_fault(people: DatabaseBackend) -> None:
    born = service(people.source, "people.born")
    expected = [{"name": "Trần Thị Bình"}, {"name": "Lê Văn Cường"}]
    assert await people.answer(born, {"id": 2}) == {"found": True, "records": expected}
    assert await people.answer(born, {"id": 4}) == {"found": False, "records": []}
    with pytest.raises(ServiceFault) as caught:
        await people.answer(born, {"id": 1})
    assert (caught.value.code, caught.value.message) == (
        "server.provider_error",
        "people.born: the query returned more than 2 rows",
    )


async def test_a_slow_query_is_stopped_at_its_deadline(people: DatabaseBackend) -> None:
    started = time.monotonic()
    with pytest.raises(ServiceFault) as caught:
        await people.answer(service(people.source, "slow.get"), {})
    assert caught.value.code == "server.provider_error"
    assert "longer than 300 ms" in caught.value.message
    assert time.monotonic() - started < 2
    # The pool is not left with a busy connection: the next query answers at once.
    assert (await people.answer(service(people.source, "person.get"), {"id": 2}))["found"] is True


async def test_postgresql_runs_queries_in_read_only_transactions(tmp_path: Path, people_db: str) -> None:
    if not people_db.startswith("postgresql"):
        return  # nextval is PostgreSQL's; the other kinds are read-only by query_only and SET TRANSACTION
    backend = DatabaseBackend(source(people_db), tmp_path)
    try:
        with pytest.raises(ServiceFault) as caught:
            await backend.answer(service(backend.source, "ticket.next"), {})
        assert caught.value.message == "ticket.next: the query failed (ReadOnlySQLTransactionError)"
    finally:
        await backend.close()


async def test_an_unreachable_database_at_start_is_an_error_naming_the_source(tmp_path: Path) -> None:
    backend = DatabaseBackend(source("postgresql+asyncpg://postgres@127.0.0.1:1/none"), tmp_path)
    try:
        with pytest.raises(
            SourceError, match=r"source people: cannot reach the database \(ConnectionRefused"
        ):
            await backend.check()
    finally:
        await backend.close()


async def test_a_database_that_goes_away_answers_unreachable_and_recovers(
    people_db: str, tmp_path: Path
) -> None:
    if people_db.startswith("sqlite"):
        return  # a file does not go away; the servers do
    url = make_url(people_db.replace("${LGSP_TEST_MARIADB_PASSWORD}", "PASSWORD"))
    proxy = Proxy(url.host or "", url.port or 0)
    await proxy.mend()
    moved = people_db.replace(f"@{url.host}:{url.port}/", f"@127.0.0.1:{proxy.port}/")
    backend = DatabaseBackend(source(moved, connect_timeout_ms=500), tmp_path)
    person = service(backend.source, "person.get")
    try:
        assert (await backend.answer(person, {"id": 1}))["found"] is True
        await proxy.cut()
        for _ in range(2):  # the pooled connection, then a new one: both fail the same way, at once
            started = time.monotonic()
            with pytest.raises(ServiceFault) as caught:
                await backend.answer(person, {"id": 1})
            assert caught.value.code == "server.provider_unreachable"
            assert time.monotonic() - started < 2
        assert backend.health.state is State.FAILED
        await proxy.mend()
        assert (await backend.answer(person, {"id": 1}))["found"] is True
        assert (backend.health.state, backend.health.error) == (State.RUNNING, None)
    finally:
        await backend.close()
        await proxy.cut()

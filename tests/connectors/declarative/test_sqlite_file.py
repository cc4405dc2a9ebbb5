"""A SQLite source's file is its database: missing at start or removed while running, the source cannot
reach it (never an empty database made in its place), and recovers when the file is back."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from connectors.declarative import SourceError, State
from connectors.declarative.database import DatabaseBackend
from connectors.faults import ServiceFault
from schemas.sources import DatabaseSource

SOURCE = DatabaseSource.model_validate(
    {
        "kind": "database",
        "name": "civil",
        "url": "sqlite+aiosqlite:///civil.db",
        "services": [
            {
                "code": "birth.get",
                "request_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
                "query": "SELECT father FROM births WHERE id = :id",
            }
        ],
    }
)


def _make(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE births (id TEXT, father TEXT); INSERT INTO births VALUES ('1', 'An');")


async def test_a_missing_file_cannot_start_and_is_not_created(tmp_path: Path) -> None:
    backend = DatabaseBackend(SOURCE, tmp_path)
    try:
        with pytest.raises(SourceError, match="source civil: cannot reach the database"):
            await backend.check()
        assert not (tmp_path / "civil.db").exists()
    finally:
        await backend.close()


async def test_a_file_removed_while_running_fails_the_source_until_it_is_back(tmp_path: Path) -> None:
    _make(tmp_path / "civil.db")
    backend = DatabaseBackend(SOURCE, tmp_path)
    service = SOURCE.services[0]
    try:
        assert await backend.answer(service, {"id": "1"}) == {"found": True, "record": {"father": "An"}}
        shutil.move(tmp_path / "civil.db", tmp_path / "away.db")
        with pytest.raises(ServiceFault) as caught:  # not the pooled connection to the removed file
            await backend.answer(service, {"id": "1"})
        assert caught.value.code == "server.provider_unreachable"
        assert (backend.health.state, backend.health.error) == (
            State.FAILED,
            "cannot reach the database (OperationalError)",
        )
        assert not (tmp_path / "civil.db").exists()
        shutil.move(tmp_path / "away.db", tmp_path / "civil.db")
        assert (await backend.answer(service, {"id": "1"}))["found"] is True
        assert backend.health.state is State.RUNNING
    finally:
        await backend.close()

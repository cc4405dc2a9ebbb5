"""Which OSErrors the API answers as "database unreachable" (503) and which it leaves to be a fault."""

import socket

import pytest

from lgsp.api.errors import raised_by_database
from lgsp.db import Database


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_oserror_from_the_database_driver_counts_as_the_database_away() -> None:
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/test")
    try:
        with pytest.raises(OSError) as raised:
            await database.ping()
    finally:
        await database.dispose()
    assert raised_by_database(raised.value)


def test_any_other_oserror_does_not() -> None:
    with pytest.raises(OSError) as raised:
        open("/nonexistent/lgsp/file")  # noqa: SIM115
    assert not raised_by_database(raised.value)

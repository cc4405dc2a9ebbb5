"""What exchange tests share: the birth-record service and reading the exchange records back."""

from dataclasses import dataclass

from sqlmodel import col, select

from connectors.sdk import Connector
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from lgsp.settings import Settings
from tests.support.hub import Hub

CITIZEN = "079203001234"
#: Why the tests ask about CITIZEN: a request about a subject must name a purpose of the catalogue.
PURPOSE = "birth-registration"
BIRTH_RECORD = {
    "code": "birth-record.get",
    "request_schema": {
        "type": "object",
        "properties": {"citizen_id": {"type": "string", "pattern": "^[0-9]{12}$"}},
        "required": ["citizen_id"],
    },
}


@dataclass
class Axis:
    """A running hub with a provider, a granted client and an outsider, all connected."""

    hub: Hub
    provider: Connector
    client: Connector
    outsider: Connector
    settings: Settings
    keys: dict[str, str]


async def records(settings: Settings) -> list[ExchangeRecord]:
    """Every exchange record in the database of `settings`, in the order the requests arrived."""
    database = Database(settings.database_url)
    try:
        async with database.sessions() as session:
            # In arrival order: without ORDER BY, PostgreSQL may return updated rows in another order.
            query = select(ExchangeRecord).order_by(col(ExchangeRecord.request_in_at), col(ExchangeRecord.id))
            return list((await session.exec(query)).all())
    finally:
        await database.dispose()

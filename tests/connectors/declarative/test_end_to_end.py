"""A connector started from a YAML config, on the real broker, answers an exchange through the hub."""

import sqlite3
from pathlib import Path

import pytest

from connectors.declarative import load_config, started_sources
from connectors.sdk import ExchangeError
from lgsp.settings import Settings
from tests.support import Broker, Hub, connector_for, make_agency, make_system, wait_connected

CONFIG = """\
system: HO-TICH
sources:
  - kind: database
    name: civil-status
    url: sqlite+aiosqlite:///civil.db
    services:
      - code: birth-record.get
        request_schema:
          type: object
          properties: {citizen_id: {type: string, pattern: "^[0-9]{12}$"}}
          required: [citizen_id]
        query: SELECT citizen_id, father FROM births WHERE citizen_id = :citizen_id
"""


async def test_a_declared_service_answers_through_the_hub(
    hub: Hub, broker: Broker, settings: Settings, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "civil.db") as db:
        db.executescript("CREATE TABLE births (citizen_id TEXT, father TEXT);")
        db.execute("INSERT INTO births VALUES ('079203001234', 'Nguyễn Văn An')")
    (tmp_path / "civil.yaml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "civil.yaml")
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "VP-UBND")
    provider = await make_system(hub.client, "HO-TICH", "SO-TP")
    client = await make_system(hub.client, "MOT-CUA", "VP-UBND")
    async with started_sources(config, tmp_path) as sources:
        for declaration in sources.declarations():
            declared = await hub.client.post(f"/api/v1/systems/{provider['id']}/services", json=declaration)
            assert declared.status_code == 201, declared.text
        granted = await hub.client.post(
            f"/api/v1/systems/{provider['id']}/grants",
            json={"service": "birth-record.get", "client_system": "MOT-CUA"},
        )
        assert granted.status_code == 201, granted.text
        async with (
            connector_for(provider, settings, broker.bootstrap) as serving,
            connector_for(client, settings, broker.bootstrap) as asking,
        ):
            sources.attach(serving)
            await wait_connected(hub.client, provider)
            answer = await asking.request("HO-TICH", "birth-record.get", {"citizen_id": "079203001234"})
            assert answer == {
                "found": True,
                "record": {"citizen_id": "079203001234", "father": "Nguyễn Văn An"},
            }
            missing = await asking.request("HO-TICH", "birth-record.get", {"citizen_id": "079203009999"})
            assert missing == {"found": False, "record": None}
            with pytest.raises(ExchangeError) as refused:  # the declared schema is the hub's to apply
                await asking.request("HO-TICH", "birth-record.get", {"citizen_id": "x"})
            assert refused.value.code == "client.bad_request"

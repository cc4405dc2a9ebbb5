"""What the sources tests share: a small SQLite database of births, and the source that serves it."""

import sqlite3
from pathlib import Path
from typing import Any

from tests.support import Hub, make_agency, make_system

BIRTH = {"citizen_id": "079203001234", "father": "Nguyễn Văn An"}


def births_db(path: Path) -> Path:
    """A SQLite file holding one birth record."""
    with sqlite3.connect(path) as db:
        db.executescript("CREATE TABLE births (citizen_id TEXT, father TEXT);")
        db.execute("INSERT INTO births VALUES (?, ?)", (BIRTH["citizen_id"], BIRTH["father"]))
    return path


def database_source(path: Path, **changes: Any) -> dict[str, Any]:
    """A database source over the SQLite file `path`, as one entry of a config's `sources:`."""
    return {
        "kind": "database",
        "name": "civil-status",
        "url": f"sqlite+aiosqlite:///{path}",
        "services": [
            {
                "code": "birth-record.get",
                "description": "Trích lục khai sinh",
                "request_schema": {
                    "type": "object",
                    "properties": {"citizen_id": {"type": "string", "pattern": "^[0-9]{12}$"}},
                    "required": ["citizen_id"],
                },
                "query": "SELECT citizen_id, father FROM births WHERE citizen_id = :citizen_id",
            }
        ],
        **changes,
    }


async def civil_status(hub: Hub) -> tuple[dict[str, Any], dict[str, Any]]:
    """The provider HO-TICH of SO-TP and the client MOT-CUA of VP-UBND, registered."""
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "VP-UBND")
    return await make_system(hub.client, "HO-TICH", "SO-TP"), await make_system(
        hub.client, "MOT-CUA", "VP-UBND"
    )


async def key(hub: Hub, role: str, agency: str | None = None) -> dict[str, str]:
    """Headers with a new key of `role` (of `agency`, for an integrator)."""
    body: dict[str, Any] = {"role": role} | ({"agency_code": agency} if agency else {})
    issued = await hub.client.post("/api/v1/keys", json=body)
    assert issued.status_code == 201, issued.text
    return hub.as_key(issued.json()["api_key"])

"""A config's `evidence` section refused before anything connects when it cannot be served, naming the
line and the field; and a holder that answers the catalogue's validity when the record has no expiry."""

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from connectors.declarative import ConfigError, SourceError, parse_config, started_sources
from schemas.onceonly import content_hash

HEAD = """\
system: HO-TICH
sources:
  - kind: database
    name: civil
    url: sqlite+aiosqlite:///civil.db
    services:
      - code: birth-record.get
        request_schema: {type: object, properties: {citizen_id: {type: string}}}
        query: SELECT child_id, registered FROM births WHERE child_id = :citizen_id
"""


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        (
            "evidence:\n  source: civil\n  documents:\n    - {document_type: birth-certificate,"
            " query: 'DELETE FROM births', issued_on: registered}\n",
            "line 13: evidence.documents[0].query: a DELETE statement",
        ),
        (
            "evidence:\n  source: civil\n  documents:\n    - {document_type: birth-certificate, query:"
            " 'SELECT * FROM births WHERE child_id = :citizen_id', issued_on: registered}\n",
            "line 13: evidence.documents[0].query: parameter :citizen_id is not a property",
        ),
        (
            "evidence:\n  source: civil\n  documents:\n    - {document_type: birth-certificate,"
            " service: nothing.get, issued_on: registered}\n",
            "nothing.get is not a service of civil with a single request field",
        ),
        (
            "evidence:\n  source: other\n  documents:\n    - {document_type: birth-certificate,"
            " service: birth-record.get, issued_on: registered}\n",
            "evidence.source: other is not a database source",
        ),
        (
            "evidence:\n  source: civil\n  documents:\n    - {document_type: birth-certificate,"
            " issued_on: registered}\n",
            "line 13: evidence.documents[0]: give either service or query",
        ),
        (
            "evidence:\n  source: civil\n  documents:\n    - {document_type: birth-certificate,"
            " service: birth-record.get, issued: registered}\n",
            "line 13: evidence.documents[0].issued: unknown field",
        ),
    ],
)
def test_an_evidence_section_that_cannot_be_served_is_refused(evidence: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(HEAD + evidence, "civil.yaml")
    assert message in str(refused.value)


@pytest.fixture
def civil(tmp_path: Path) -> Path:
    with sqlite3.connect(tmp_path / "civil.db") as db:
        db.executescript(
            "CREATE TABLE births (child_id TEXT, registered TEXT);"
            "INSERT INTO births VALUES ('079203001234', '2003-04-05');"
            "CREATE TABLE confirmations (citizen_id TEXT, issued TEXT);"
            "INSERT INTO confirmations VALUES ('079203001234', '2026-01-10');"
        )
    return tmp_path


async def test_a_type_the_catalogue_does_not_give_the_system_does_not_start(civil: Path) -> None:
    config = parse_config(
        HEAD.replace("HO-TICH", "DKKD")
        + "evidence:\n  source: civil\n  documents:\n    - {document_type: birth-certificate,"
        " service: birth-record.get, issued_on: registered}\n"
    )
    with pytest.raises(SourceError, match="does not name DKKD the holder of birth-certificate"):
        async with started_sources(config, civil):
            pass


async def test_the_catalogues_validity_counts_when_the_record_has_no_expiry(civil: Path) -> None:
    config = parse_config(
        HEAD + "evidence:\n  source: civil\n  documents:\n"
        "    - {document_type: birth-certificate, service: birth-record.get, issued_on: registered}\n"
        "    - document_type: marital-status-confirmation\n"
        "      query: SELECT citizen_id, issued FROM confirmations WHERE citizen_id = :subject\n"
        "      issued_on: issued\n"
    )
    async with started_sources(config, civil) as sources:
        holder = sources.holder
        assert holder is not None
        subject = "079203001234"
        ask = {"document_type": "marital-status-confirmation", "subject": subject}
        # 180 days in the shipped catalogue, the day of issue not counted: valid to 9 July 2026.
        held = await holder.serve_get(ask | {"on": "2026-07-09"})
        assert held["held"] and held["document"]["valid_until"] == "2026-07-09"
        assert held["document"]["content_hash"] == content_hash(
            "marital-status-confirmation", subject, {"citizen_id": subject, "issued": "2026-01-10"}
        )
        assert (await holder.serve_get(ask | {"on": "2026-07-10"}))["reason"] == "expired"
        assert (await holder.serve_get(ask | {"on": "2025-12-31"}))["reason"] == "not yet issued"
        birth = {"document_type": "birth-certificate", "subject": subject, "on": date(2026, 7, 1).isoformat()}
        answer = await holder.serve_get(birth)
        assert answer["held"] and answer["document"]["valid_until"] is None
